"""Routing use cases: enqueue, match, offer, accept, decline, transfer, complete, presence.

Over 500 lines, knowingly: issue 11 splits this module along its use cases into a package
re-exporting these names; issue 10 changed behaviour here and left the move to that one change.

The decision itself is `routing.engine` (pure); this module loads candidates through the
slot and waiting-item indexes, locks, claims and records.

Locking, so that no agent ever exceeds capacity and no item is held twice under any
number of concurrent workers:

- An item changes state only under its row lock.
- An agent's load changes only under the agent's row lock, and capacity is checked
  against the agent's held items counted under that lock (the slots are only a hint).
- Where both are locked, the item comes first; the one path that starts from the agent
  (pulling waiting work) takes items with SKIP LOCKED, and matching an item takes agents
  with SKIP LOCKED, so two workers never wait on each other in a cycle.
- Offers past their timeout that a use case meets (an agent's room counted, a match or a
  pull finding nobody or nothing) are expired on the spot, items and agents taken with
  SKIP LOCKED, so routing does not depend on the beat's sweep and never waits doing it.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Func, Q
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext as _

from routing import engine, push, selectors
from routing.models import (
    CHANNELS,
    CONTACT_KINDS,
    HELD_STATES,
    HISTORY_STREAM,
    OPEN_STATES,
    AgentProfile,
    AgentSlot,
    ItemState,
    Presence,
    Queue,
    RoutingRule,
    Strategy,
    WorkItem,
    WorkItemEvent,
)
from supportdesk.conditions import condition_errors
from supportdesk.errors import Conflict, DomainError, NotFound
from supportdesk.outbox import outbox_bulk_create

log = logging.getLogger(__name__)

# Attributes rules may test. Anything else a caller knows goes under "custom.<name>".
ATTRIBUTES = ("channel", "language", "contact_kind", "lifetime_order_value", "tier", "country",
              "contact_reason", "priority")
CUSTOM_PREFIX = "custom."
CANDIDATES = 8  # agents (or items) read per attempt; a few more than one covers lock races


def attribute_known(name: str) -> bool:
    return name in ATTRIBUTES or (name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX))


# --- reading the routing configuration ---------------------------------------------------


def rules_load() -> list[engine.Rule]:
    """The active rules in order. One that is invalid (written around the admin's checks)
    is skipped and logged, so it cannot stop routing for everyone."""
    rules = []
    for rule in RoutingRule.objects.filter(is_active=True).order_by("position", "id"):
        condition = rule.condition or {"all": []}
        errors = condition_errors(condition, attributes=None)
        errors += [f"unknown attribute {name!r}" for name in _condition_attributes(condition)
                   if not attribute_known(name)]
        if errors:
            log.error("Routing rule %s (%s) skipped: %s", rule.pk, rule.name, " ".join(errors))
            continue
        rules.append(engine.Rule(
            name=rule.name, condition=condition, queue_key=rule.queue_key, priority=rule.priority,
            skills=frozenset(rule.required_skills), optional_skills=frozenset(rule.optional_skills)))
    return rules


def _condition_attributes(condition: Mapping[str, Any]) -> list[str]:
    for group in ("all", "any"):
        if group in condition:
            return [name for part in condition[group] for name in _condition_attributes(part)]
    return [condition["attribute"]]


def default_queue(*, create: bool = True) -> Queue:
    """The queue for items no rule routes; a dry run (create=False) gets an unsaved one
    rather than writing."""
    if not create:
        queue = Queue.objects.filter(key=settings.ROUTING_DEFAULT_QUEUE).first()
        return queue or Queue(key=settings.ROUTING_DEFAULT_QUEUE, name="General")
    queue, _ = Queue.objects.get_or_create(
        key=settings.ROUTING_DEFAULT_QUEUE, defaults={"name": "General"}
    )
    return queue


def attributes_normalise(*, channel: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    if channel not in CHANNELS:
        raise DomainError(f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}.",
                          code="unknown_channel")
    if attributes is not None and not isinstance(attributes, Mapping):
        raise DomainError("Attributes must be an object.", code="invalid_attributes")
    values = {str(key): value for key, value in (attributes or {}).items()}
    if any("\x00" in text for key, value in values.items() for text in (key, value) if isinstance(text, str)):
        raise DomainError("Attributes cannot contain NUL characters.", code="invalid_attributes")
    unknown = sorted(key for key in values if not attribute_known(key))
    if unknown:
        raise DomainError(
            f"Unknown attribute {', '.join(unknown)}; use {', '.join(ATTRIBUTES)} or "
            f"{CUSTOM_PREFIX}<name>.", code="unknown_attribute",
        )
    values["channel"] = channel
    values["language"] = str(values.get("language") or settings.ROUTING_DEFAULT_LANGUAGE).strip().lower()
    kind = str(values.get("contact_kind") or "customer").strip().lower()
    if kind not in CONTACT_KINDS:
        raise DomainError(f"Unknown contact kind {kind!r}; use one of {', '.join(CONTACT_KINDS)}.",
                          code="unknown_contact_kind")
    values["contact_kind"] = kind
    if isinstance(values.get("lifetime_order_value"), Decimal):
        values["lifetime_order_value"] = str(values["lifetime_order_value"])  # JSON-safe, exact
    return values


@dataclass(frozen=True)
class Route:
    rule: str  # "" when no rule matched and the default queue took it
    queue: Queue
    priority: int
    required_skills: frozenset[str]  # the rule's and the queue's
    optional_skills: frozenset[str]
    rule_required_skills: frozenset[str] = frozenset()  # the rule's alone
    rule_optional_skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoutingConfig:
    rules: list[engine.Rule]
    queues: dict[str, Queue]  # the active ones, by key
    loaded_at: float


_config: RoutingConfig | None = None


def routing_config(*, fresh: bool = False) -> RoutingConfig:
    """The rules and active queues, read at most every ROUTING_CONFIG_SECONDS per process.

    Every decision needs them and supervisors change them rarely: saving a queue, a rule or
    its conditions clears this process's copy at once (routing.apps), other processes see
    the change within the interval.
    """
    global _config
    config = _config
    now = time.monotonic()
    if fresh or config is None or now - config.loaded_at >= settings.ROUTING_CONFIG_SECONDS:
        config = RoutingConfig(rules=rules_load(),
                               queues={q.key: q for q in Queue.objects.filter(is_active=True)},
                               loaded_at=now)
        _config = config
    return config


def routing_config_clear(**_: Any) -> None:
    global _config
    _config = None
    if transaction.get_connection().in_atomic_block:
        # Another thread may read the old rows again before this save commits.
        transaction.on_commit(lambda: routing_config_clear())


def route_find(*, attributes: Mapping[str, Any], priority: int = 0, write: bool = True) -> Route:
    """Which queue, priority and skills the rules give these (normalised) attributes.

    A rule whose templated queue does not exist (chat.{language} for a language without a
    queue) is passed over; when no rule routes the item, the default queue takes it. A dry
    run (write=False) reads the configuration fresh and writes nothing.
    """
    config = routing_config(fresh=not write)
    for rule in config.rules:
        match = engine.rule_match([rule], attributes)
        if match is None:
            continue
        queue = config.queues.get(match.queue_key)
        if queue is not None:
            return Route(
                rule=match.rule, queue=queue,
                priority=priority if match.priority is None else match.priority,
                required_skills=match.skills | frozenset(queue.required_skills),
                optional_skills=match.optional_skills | frozenset(queue.optional_skills),
                rule_required_skills=match.skills, rule_optional_skills=match.optional_skills,
            )
    queue = default_queue(create=write)
    return Route(rule="", queue=queue, priority=priority, required_skills=frozenset(queue.required_skills),
                 optional_skills=frozenset(queue.optional_skills))


# --- agents as the engine sees them --------------------------------------------------------


def engine_agent(profile: AgentProfile, load: Mapping[str, int]) -> engine.Agent:
    return engine.Agent(
        id=profile.pk, presence=profile.presence, languages=frozenset(profile.languages),
        contact_kinds=frozenset(profile.contact_kinds), skills=frozenset(profile.skills),
        capacity={channel: profile.capacity_for(channel) for channel in CHANNELS}, load=dict(load),
        last_assigned_at=profile.last_assigned_at, tier=profile.tier,
    )


def engine_item(item: WorkItem) -> engine.Item:
    return engine.Item(
        id=item.pk or 0, channel=item.channel, language=item.language, contact_kind=item.contact_kind,
        priority=item.priority, enqueued_at=item.enqueued_at,
        required_skills=frozenset(item.required_skills), optional_skills=frozenset(item.optional_skills),
        optional_relaxed=item.optional_relaxed, min_tier=item.min_agent_tier,
        declined_by=frozenset(item.declined_by),
    )


def _slot_candidates(item: WorkItem, *, strategy: str, exclude: Iterable[int] = (),
                     limit: int = CANDIDATES) -> list[int]:
    """Agent ids, best first by the strategy, from the slot index: online, with room on
    the item's channel, its language and contact kind, tier and skills."""
    skills = list(item.required_skills)
    if not item.optional_relaxed:
        skills += [skill for skill in item.optional_skills if skill not in skills]
    slots = AgentSlot.objects.filter(
        available=True, channel=item.channel, language=item.language, contact_kind=item.contact_kind,
        tier__gte=item.min_agent_tier,
    )
    if skills:
        slots = slots.filter(skills__contains=skills)
    excluded = set(item.declined_by) | set(exclude)
    if excluded:
        slots = slots.exclude(agent_id__in=excluded)
    idle = (F("last_assigned_at").asc(nulls_first=True), "agent_id")
    order = (F("spare_permille").desc(), *idle) if strategy == Strategy.MOST_SPARE_CAPACITY else idle
    return list(slots.order_by(*order).values_list("agent_id", flat=True)[:limit])


def route_explain(*, channel: str, attributes: Mapping[str, Any], priority: int = 0,
                  limit: int = 20) -> tuple[Route, engine.Item, list[engine.Agent]]:
    """The dry run: the route and the ranked eligible agents, changing nothing."""
    values = attributes_normalise(channel=channel, attributes=attributes)
    route = route_find(attributes=values, priority=priority, write=False)
    item = WorkItem(
        channel=channel, language=values["language"], contact_kind=values["contact_kind"],
        priority=route.priority, required_skills=sorted(route.required_skills),
        optional_skills=sorted(route.optional_skills - route.required_skills),
        min_agent_tier=route.queue.min_agent_tier, enqueued_at=timezone.now(),
    )
    ids = _slot_candidates(item, strategy=route.queue.strategy, limit=limit)
    profiles = AgentProfile.objects.in_bulk(ids)
    loads = selectors.agents_load(agent_ids=ids)
    # Idle time is per channel (see _slots_channel_update): rank by what the matcher reads.
    idle_since = dict(AgentSlot.objects.filter(
        agent_id__in=ids, channel=item.channel, language=item.language, contact_kind=item.contact_kind,
    ).values_list("agent_id", "last_assigned_at"))
    agents = [replace(engine_agent(profiles[agent_id], loads.get(agent_id, {})),
                      last_assigned_at=idle_since.get(agent_id))
              for agent_id in ids if agent_id in profiles]
    ranked = engine.agents_rank(agents, engine_item(item), strategy=route.queue.strategy)
    return route, engine_item(item), ranked


# --- slots -----------------------------------------------------------------------------------


def _slot_state(profile: AgentProfile, channel: str, load: int) -> tuple[bool, int]:
    capacity = profile.capacity_for(channel)
    spare = max(capacity - load, 0)
    available = profile.presence == Presence.ONLINE and spare > 0
    return available, (spare * 1000 // capacity if capacity else 0)


def agent_slots_rebuild(profile: AgentProfile) -> None:
    """Rewrite the agent's slots from the profile and its held items (profile locked or new)."""
    AgentSlot.objects.filter(agent_id=profile.pk).delete()
    load = selectors.agents_load(agent_ids=[profile.pk]).get(profile.pk, {})
    slots = []
    for channel in CHANNELS:
        if profile.capacity_for(channel) <= 0:
            continue
        available, spare = _slot_state(profile, channel, load.get(channel, 0))
        for language, kind in itertools.product(profile.languages, profile.contact_kinds):
            slots.append(AgentSlot(
                agent_id=profile.pk, channel=channel, language=language, contact_kind=kind,
                tier=profile.tier, skills=list(profile.skills), available=available,
                spare_permille=spare, last_assigned_at=profile.last_assigned_at,
            ))
    AgentSlot.objects.bulk_create(slots)


def _slots_channel_update(profile: AgentProfile, channel: str, *, load: int) -> None:
    """Refresh the agent's slots on one channel. Their last assignment is per channel: it
    is what "longest idle" ranks by there, and leaving the other channels' rows alone
    keeps a claim to a handful of row writes."""
    available, spare = _slot_state(profile, channel, load)
    AgentSlot.objects.filter(agent_id=profile.pk, channel=channel).update(
        last_assigned_at=profile.last_assigned_at, available=available, spare_permille=spare)


def _held(profile_id: int, channel: str) -> int:
    return WorkItem.objects.filter(agent_id=profile_id, state__in=HELD_STATES, channel=channel).count()


# --- events ------------------------------------------------------------------------------------


_event_buffer: ContextVar[list[WorkItemEvent] | None] = ContextVar("routing_event_buffer", default=None)
_rematch_buffer: ContextVar[list[int] | None] = ContextVar("routing_rematch_buffer", default=None)


@contextmanager
def _unit_of_work() -> Iterator[None]:
    """One use case's writes: the items whose lapsed offers it expired on the way are
    matched again at its end (not in the middle of the match or pull that found them,
    holding its locks), and the history it recorded is written in one INSERT, inside the
    caller's transaction, so it commits or rolls back with the change it records."""
    buffer: list[WorkItemEvent] = []
    rematch: list[int] = []
    tokens = _event_buffer.set(buffer), _rematch_buffer.set(rematch)
    try:
        yield
        while rematch:
            item = (WorkItem.objects.select_for_update(of=("self",)).select_related("queue")
                    .filter(pk=rematch.pop(0), state=ItemState.WAITING).first())
            if item is not None:  # else taken meanwhile, in this same use case
                _item_match(item, now=timezone.now())
        if buffer:
            outbox_bulk_create(buffer, stream=HISTORY_STREAM)
    finally:
        _event_buffer.reset(tokens[0])
        _rematch_buffer.reset(tokens[1])


def _rematch_later(item: WorkItem) -> None:
    """Match a locked waiting item again once the current use case is done with its locks."""
    pending = _rematch_buffer.get()
    if pending is None:
        _item_match(item, now=timezone.now())
    elif item.pk not in pending:
        pending.append(item.pk)


def _event(item: WorkItem, kind: str, *, at: datetime, agent_id: int | None = None, **detail: Any) -> None:
    event = WorkItemEvent(item_id=item.pk, kind=kind, at=at, agent_id=agent_id, queue_id=item.queue_id,
                          detail=detail)
    buffer = _event_buffer.get()
    if buffer is not None:
        buffer.append(event)
    else:
        # With its outbox entries (supportdesk.outbox), which carry it to the layers above.
        outbox_bulk_create([event], stream=HISTORY_STREAM)


# --- the two sides of the match ------------------------------------------------------------------


_ITEM, _AGENT, _SLOT = WorkItem._meta.db_table, AgentProfile._meta.db_table, AgentSlot._meta.db_table
_CLAIM_SQL = f"""
    WITH claimed AS (
        UPDATE {_ITEM} SET agent_id = %(agent)s, state = %(state)s, assigned_at = %(assigned_at)s,
            offered_at = %(offered_at)s, offer_expires_at = %(offer_expires_at)s,
            answered_at = %(answered_at)s, sla_breached_at = %(sla_breached_at)s
        WHERE id = %(item)s
    ), agent AS (
        UPDATE {_AGENT} SET last_assigned_at = %(now)s WHERE id = %(agent)s
    )
    UPDATE {_SLOT} SET last_assigned_at = %(now)s, available = %(available)s, spare_permille = %(spare)s
    WHERE agent_id = %(agent)s AND channel = %(channel)s
"""


def _claim(item: WorkItem, profile: AgentProfile, *, now: datetime, held: int,
           direct: bool = False) -> None:
    """Give a locked waiting item to a locked agent with room (holding `held` items on its
    channel before this one): an offer, or an assignment when the queue assigns directly
    (or `direct`)."""
    # Escalation and breach due by now are recorded first, in that order (the item reaching
    # an agent is when the beat-less desk notices them).
    _sla_catch_up(item, now=now, kinds=("escalated", "breached"))
    queue = item.queue
    item.agent_id = profile.pk
    if queue.assign_directly or direct:
        item.state = ItemState.ASSIGNED
        item.assigned_at = now
        item.offered_at = item.offer_expires_at = None
    else:
        item.state = ItemState.OFFERED
        item.offered_at = now
        item.offer_expires_at = now + timedelta(seconds=queue.offer_timeout_seconds)
    if item.state == ItemState.ASSIGNED and item.answered_at is None:
        item.answered_at = now
    profile.last_assigned_at = now
    available, spare = _slot_state(profile, item.channel, held + 1)
    # The item, the agent and the agent's slots on the channel in one round trip: this
    # runs for every decision.
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {
            "item": item.pk, "agent": profile.pk, "state": item.state, "assigned_at": item.assigned_at,
            "offered_at": item.offered_at, "offer_expires_at": item.offer_expires_at,
            "answered_at": item.answered_at, "sla_breached_at": item.sla_breached_at, "now": now,
            "channel": item.channel, "available": available, "spare": spare,
        })
    _event(item, item.state, at=now, agent_id=profile.pk)
    push.item_changed(user_id=profile.user_id, item=item, event=item.state)


def _agent_lock(agent_id: int, *, skip_locked: bool) -> AgentProfile | None:
    qs = AgentProfile.objects.select_for_update(skip_locked=skip_locked).filter(pk=agent_id)
    return qs.first()


def _room_given(profile: AgentProfile, channel: str, held: int) -> int | None:
    """`held` when an agent holding that many items on the channel has room, else None."""
    return held if profile.presence == Presence.ONLINE and held < profile.capacity_for(channel) else None


_HELD_AND_LAPSED_SQL = (
    f"SELECT count(*) FILTER (WHERE channel = %(channel)s), "
    f"count(*) FILTER (WHERE state = '{ItemState.OFFERED}' AND offer_expires_at <= %(now)s) "
    f"FROM {_ITEM} WHERE agent_id = %(agent)s AND state IN ('{ItemState.OFFERED}', '{ItemState.ASSIGNED}')"
)


def _room(profile: AgentProfile, channel: str, *, now: datetime) -> int | None:
    """How many items a locked agent holds on the channel, or None when they have no room.
    Their offers past the timeout are expired first, so they hold no room."""
    if profile.presence != Presence.ONLINE:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_HELD_AND_LAPSED_SQL, {"agent": profile.pk, "channel": channel, "now": now})
        held, lapsed = cursor.fetchone()
    if lapsed:
        held = _own_offers_lapse(profile, channel, now=now)
    return _room_given(profile, channel, held)


def _own_offers_lapse(profile: AgentProfile, channel: str, *, now: datetime) -> int:
    """Expire a locked agent's offers past their timeout and count again what they hold
    on the channel (the misses may have set them away: the profile is read again)."""
    _offers_lapse(now=now, agent_id=profile.pk)
    profile.refresh_from_db(fields=["presence", "missed_offers"])
    return _held(profile.pk, channel)


_PROFILE_COLUMNS = [field.column for field in AgentProfile._meta.concrete_fields]
_LOCK_AND_HELD_SQL = (
    f"SELECT {', '.join(_PROFILE_COLUMNS)} FROM {_AGENT} WHERE id = %(agent)s FOR UPDATE SKIP LOCKED; "
    + _HELD_AND_LAPSED_SQL
)


def _agent_lock_room(agent_id: int, channel: str, *, now: datetime) -> tuple[AgentProfile | None, int | None]:
    """Lock an agent unless another worker holds them (SKIP LOCKED), and count what they
    hold on the channel once the lock is ours: the `_agent_lock` and `_room` of the match,
    in one round trip (the count is a second statement, so it sees the locked state). Their
    offers past the timeout, if any, are expired first."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_AND_HELD_SQL, {"agent": agent_id, "channel": channel, "now": now})
        row = cursor.fetchone()
        cursor.nextset()
        held, lapsed = cursor.fetchone()
    if row is None:
        return None, None
    values = dict(zip(_PROFILE_COLUMNS, row, strict=True))
    if isinstance(values["capacity"], str):  # Django reads jsonb as text and decodes it in the ORM
        values["capacity"] = json.loads(values["capacity"])
    profile = AgentProfile(**{field.attname: values[field.column] for field in AgentProfile._meta.concrete_fields})
    profile._state.adding, profile._state.db = False, connection.alias
    if lapsed and profile.presence == Presence.ONLINE:
        held = _own_offers_lapse(profile, channel, now=now)
    return profile, _room_given(profile, channel, held)


def _item_match(item: WorkItem, *, now: datetime, preferred_agent_id: int | None = None) -> bool:
    """Offer or assign a locked waiting item to the best eligible agent with room.

    Its service-level steps due by now (escalation, relaxed skills, overflow, breach) are
    applied first, so what it needs is what the sweep would have made it. When nobody has
    room, offers past their timeout on its channel are expired and the match tried again:
    with the beat down they would otherwise hold the agents' room for ever."""
    _sla_catch_up(item, now=now)
    if preferred_agent_id is not None and preferred_agent_id not in item.declined_by:
        profile, held = _agent_lock_room(preferred_agent_id, item.channel, now=now)
        if held is not None and engine.agent_eligible(engine_agent(profile, {}), engine_item(item)):
            _claim(item, profile, now=now, held=held)
            return True
    return _match_rounds(item, now=now) or (
        _offers_lapse(now=now, channel=item.channel) > 0 and _match_rounds(item, now=now))


def _match_rounds(item: WorkItem, *, now: datetime) -> bool:
    tried: list[int] = []
    for _round in range(3):  # a few rounds: candidates may be taken by other workers meanwhile
        candidates = _slot_candidates(item, strategy=item.queue.strategy, exclude=tried)
        if not candidates:
            return False
        for agent_id in candidates:
            tried.append(agent_id)
            profile, held = _agent_lock_room(agent_id, item.channel, now=now)
            if held is None:
                continue
            _claim(item, profile, now=now, held=held)
            return True
    return False


def _past(start: str, seconds: Any, now: datetime) -> Q:
    """Items whose `start` time plus `seconds` (an expression over the item and its queue)
    is at or before `now`."""
    interval = Func(seconds, function="make_interval", template="make_interval(secs => %(expressions)s)",
                    output_field=DurationField())
    return Q(LessThanOrEqual(ExpressionWrapper(F(start) + interval, output_field=DateTimeField()), now))


def _waiting_for(profile: AgentProfile, channel: str, *, now: datetime, exclude: Iterable[int] = ()) -> list[int]:
    """Waiting item ids this agent may take on a channel, best first.

    An item is seen as its due service-level steps will make it once locked (see
    `_sla_catch_up`): optional skills relaxed after the queue's relax wait or at escalation,
    and escalation forgetting who declined it, so a desk without its beat still serves it."""
    skills = list(profile.skills)
    escalation_due = Q(escalated_at__isnull=True) & _past(
        "enqueued_at", F("queue__target_wait_seconds") * F("queue__escalate_at_percent") / 100.0, now)
    relax_due = Q(queue__relax_optional_after_seconds__isnull=False) & _past(
        "enqueued_at", F("queue__relax_optional_after_seconds"), now)
    items = WorkItem.objects.filter(
        state=ItemState.WAITING, channel=channel, language__in=profile.languages,
        contact_kind__in=profile.contact_kinds, min_agent_tier__lte=profile.tier,
        required_skills__contained_by=skills,
    ).filter(Q(optional_relaxed=True) | Q(optional_skills__contained_by=skills) | relax_due | escalation_due
             ).filter(~Q(declined_by__contains=[profile.pk]) | escalation_due)
    if exclude:
        items = items.exclude(pk__in=list(exclude))
    order = (F("queue_priority").desc(), F("priority").desc(), "enqueued_at", "id")
    return list(items.order_by(*order).values_list("id", flat=True)[:CANDIDATES])


def _agent_pull(profile: AgentProfile, *, now: datetime, channels: Iterable[str] = CHANNELS) -> int:
    """A locked agent with room takes the best waiting items from the queues they serve,
    until full or nothing fits. Returns how many items they took.

    After an item leaves an agent only its channel gained room, so only that channel is
    looked at; coming online (or new settings) looks at every channel."""
    if profile.presence != Presence.ONLINE:
        return 0
    taken = 0
    for channel in channels:
        tried: list[int] = []
        lapsed_looked = False
        while (held := _room(profile, channel, now=now)) is not None:
            candidates = _waiting_for(profile, channel, now=now, exclude=tried)
            if not candidates:
                # Offers other agents let time out may be what is left for this one: with
                # the beat down nobody else would expire them.
                if not lapsed_looked and _offers_lapse(now=now, channel=channel):
                    lapsed_looked = True
                    continue
                break
            claimed = False
            for item_id in candidates:
                tried.append(item_id)
                item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                        .select_related("queue").filter(pk=item_id, state=ItemState.WAITING).first())
                if item is None:
                    continue
                # Listed as its due steps would make it; checked as they did make it.
                applied = _sla_catch_up(item, now=now)
                if not engine.agent_eligible(engine_agent(profile, {}), engine_item(item)):
                    if applied:
                        _rematch_later(item)  # it moved on (overflowed) beyond this agent's reach
                    continue
                _claim(item, profile, now=now, held=held)
                taken += 1
                claimed = True
                break
            if not claimed and len(candidates) < CANDIDATES:
                break
    return taken


def _item_lock(item_id: int) -> WorkItem:
    item = (WorkItem.objects.select_for_update(of=("self",)).select_related("queue")
            .filter(pk=item_id).first())
    if item is None:
        raise NotFound(f"Work item {item_id} does not exist.")
    return item


def _release(item: WorkItem, *, now: datetime, kind: str, decline: bool = False,
             **detail: Any) -> AgentProfile | None:
    """Take a held item back from its agent (item locked); returns the agent, locked."""
    agent_id = item.agent_id
    profile = _agent_lock(agent_id, skip_locked=False) if agent_id else None
    if decline and agent_id and agent_id not in item.declined_by:
        item.declined_by = [*item.declined_by, agent_id]
    previous = item.state
    item.state = ItemState.WAITING
    item.agent_id = None
    item.offered_at = item.offer_expires_at = item.assigned_at = None
    item.save(update_fields=["state", "agent", "offered_at", "offer_expires_at", "assigned_at",
                             "declined_by"])
    _event(item, kind, at=now, agent_id=agent_id, **detail)
    if profile is not None:
        _slots_channel_update(profile, item.channel, load=_held(profile.pk, item.channel))
        push.item_changed(user_id=profile.user_id, item=item, event=kind, previous=previous)
    return profile


# --- use cases ------------------------------------------------------------------------------------


def work_item_enqueue(
    *,
    conversation_id: int,
    channel: str,
    attributes: Mapping[str, Any] | None = None,
    priority: int = 0,
    preferred_agent_id: int | None = None,
) -> WorkItem:
    """Route a conversation that needs an agent and offer it to the best free one.

    Idempotent per conversation: while it has an open item, that item is returned.
    `preferred_agent_id` (an agent profile id) gets the item first if eligible and free;
    by default that is the agent of the conversation's last item, so a reopened
    conversation goes back to its last agent.
    """
    values = attributes_normalise(channel=channel, attributes=attributes)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise DomainError("Priority must be a whole number.", code="invalid_priority")
    try:
        with transaction.atomic(), _unit_of_work():
            # The conversation's latest item: still open (return it), or who had it last.
            latest = (WorkItem.objects.filter(conversation_id=conversation_id).order_by("-enqueued_at")
                      .only("id", "state", "agent_id").first())
            if latest is not None and latest.state in OPEN_STATES:
                return WorkItem.objects.select_related("queue").get(pk=latest.pk)
            if preferred_agent_id is None and latest is not None:
                preferred_agent_id = latest.agent_id
            route = route_find(attributes=values, priority=priority)
            now = timezone.now()
            item = _item_create(conversation_id, channel, values, route, now)
            _event(item, "queued", at=now, rule=route.rule, queue=route.queue.key)
            _item_match(item, now=now, preferred_agent_id=preferred_agent_id)
    except IntegrityError:
        # Another request enqueued the same conversation a moment ago: that item stands.
        item = WorkItem.objects.filter(conversation_id=conversation_id, state__in=OPEN_STATES).first()
        if item is None:
            raise
    return item


def _item_create(conversation_id: int, channel: str, values: dict[str, Any], route: Route,
                 now: datetime) -> WorkItem:
    return WorkItem.objects.create(
        conversation_id=conversation_id, channel=channel, attributes=values,
        language=values["language"], contact_kind=values["contact_kind"], queue=route.queue,
        queue_priority=route.queue.priority, priority=route.priority,
        required_skills=sorted(route.required_skills),
        optional_skills=sorted(route.optional_skills - route.required_skills),
        rule_required_skills=sorted(route.rule_required_skills),
        rule_optional_skills=sorted(route.rule_optional_skills),
        min_agent_tier=route.queue.min_agent_tier, rule=route.rule, enqueued_at=now, queued_at=now,
    )


def work_item_match(*, item_id: int) -> bool:
    """Try once more to place a waiting item (the sweeper's safety net); idempotent."""
    with transaction.atomic(), _unit_of_work():
        item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("queue").filter(pk=item_id, state=ItemState.WAITING).first())
        return item is not None and _item_match(item, now=timezone.now())


def _agent_of(user: Any) -> AgentProfile:
    return selectors.agent_get(user=user)


def _held_by(item: WorkItem, profile: AgentProfile, states: Iterable[str]) -> None:
    if item.agent_id != profile.pk or item.state not in states:
        raise Conflict(f"Work item {item.pk} is not {' or '.join(states)} to you.",
                       code="not_yours")


class OfferExpired(Conflict):
    """A late accept, refused after the offer was expired and the item passed on. Raised
    once those writes are done: a caller that runs `offer_accept` inside its own transaction
    must let the block end before re-raising it, or the item goes nowhere."""

    def __init__(self) -> None:
        super().__init__(_("This offer expired before you accepted it; it has been passed on."),
                         code="offer_expired")


def _expired_from(item: WorkItem, profile: AgentProfile) -> bool:
    """Whether the agent's last part in the item's history is its offer to them expiring."""
    last = item.events.filter(agent_id=profile.pk).order_by("-at", "-id").values_list("kind", flat=True).first()
    return last == "expired"


def offer_accept(*, item_id: int, user: Any) -> WorkItem:
    """The agent takes the item offered to them. An offer past its timeout is refused with
    `offer_expired` (409), and expired in the same call: the item is offered to the next
    eligible agent before the refusal returns (committed even when the caller's own
    transaction wraps this one, provided it lets `OfferExpired` out of its block: see
    `OfferExpired`)."""
    profile = _agent_of(user)
    with transaction.atomic(), _unit_of_work():
        item = _item_lock(item_id)
        if item.agent_id != profile.pk and _expired_from(item, profile):
            raise OfferExpired()  # a sweep or another use case expired it a moment before
        _held_by(item, profile, (ItemState.OFFERED,))
        now = timezone.now()
        late = _offer_lapsed(item, now=now)
        if late:
            locked = _offer_expire(item, now=now, present=True)
            _requeue_and_refill(item, locked, now=now)
        else:
            # The agent's other offers past their timeout go on to others, not counted as
            # misses: answering shows they are there.
            _offers_lapse(now=now, agent_id=profile.pk, present=True)
            _sla_catch_up(item, now=now, kinds=("escalated", "breached"))  # accepted too late for its target
            item.state = ItemState.ASSIGNED
            item.assigned_at = now
            item.answered_at = item.answered_at or now
            item.offer_expires_at = None
            item.save(update_fields=["state", "assigned_at", "answered_at", "offer_expires_at"])
            AgentProfile.objects.filter(pk=profile.pk).update(missed_offers=0)
            _event(item, "accepted", at=now, agent_id=profile.pk)
            push.item_changed(user_id=profile.user_id, item=item, event="accepted")
    if late:
        raise OfferExpired()
    return item


def _requeue_and_refill(item: WorkItem, profile: AgentProfile | None, *, now: datetime) -> None:
    """After an item left an agent: find it someone else, then let the agent refill."""
    _item_match(item, now=now)
    if profile is not None:
        _agent_pull(profile, now=now, channels=(item.channel,))


def offer_decline(*, item_id: int, user: Any, reason: str = "") -> WorkItem:
    profile = _agent_of(user)
    with transaction.atomic(), _unit_of_work():
        item = _item_lock(item_id)
        if profile.pk in item.declined_by and item.agent_id != profile.pk:
            return item  # declined (or let go) already: a decline sent again changes nothing
        _held_by(item, profile, (ItemState.OFFERED,))
        now = timezone.now()
        _offers_lapse(now=now, agent_id=profile.pk, present=True)  # as in offer_accept
        locked = _release(item, now=now, kind="declined", decline=True, reason=reason[:200])
        _requeue_and_refill(item, locked, now=now)
    return item


def _offer_lapsed(item: WorkItem, *, now: datetime) -> bool:
    return (item.state == ItemState.OFFERED and item.offer_expires_at is not None
            and item.offer_expires_at <= now)


def _offer_expire(item: WorkItem, *, now: datetime, present: bool = False) -> AgentProfile | None:
    """Take back a locked offer past its timeout; returns its agent, locked.

    A miss counts against the agent (and enough in a row set them away) only when the
    expiry is noticed within ROUTING_OFFER_MISS_GRACE_SECONDS of the timeout. Every live
    path notices at once (the sweep every few seconds, and every match, pull, accept or
    decline that touches it), so an expiry noticed later proves nothing in routing was
    running while the offer was live (the beat, or the whole desk, was down): the agent
    may never have seen it, and is neither counted nor left out of the item's next match.
    An agent `present` (answering this offer late, or another one) is not counted either,
    but the item goes to someone else.
    """
    unseen = (now - item.offer_expires_at).total_seconds() > settings.ROUTING_OFFER_MISS_GRACE_SECONDS
    detail: dict[str, Any] = {"agent_present": True} if present else {}
    if unseen:
        detail["unseen"] = True
        log.warning("Routing: the offer of item %s to agent %s expired %d s before anything noticed "
                    "(beat or desk down?); not counted as their miss", item.pk, item.agent_id,
                    _seconds(item.offer_expires_at, now))
    profile = _release(item, now=now, kind="expired", decline=present or not unseen, **detail)
    if profile is not None and not (unseen or present):
        profile.missed_offers += 1
        profile.save(update_fields=["missed_offers"])
        if profile.missed_offers >= settings.ROUTING_MISSED_OFFERS_AWAY and profile.presence == Presence.ONLINE:
            _presence_apply(profile, Presence.AWAY, now=now, reassign=False, reason="missed offers")
    return profile


def _offers_lapse(*, now: datetime, channel: str | None = None, agent_id: int | None = None,
                  limit: int = CANDIDATES, present: bool = False) -> int:
    """Expire offers past their timeout (on a channel, or one agent's) on access, so they
    hold no agent's room while no sweep runs; their items are matched again at the end of
    the use case. It runs inside other use cases, holding their locks: items and agents
    are taken with SKIP LOCKED, and one another worker holds stays held (counted as the
    agent's load) until the next look. Returns how many expired."""
    offers = WorkItem.objects.filter(state=ItemState.OFFERED, offer_expires_at__lte=now)
    if channel is not None:
        offers = offers.filter(channel=channel)
    if agent_id is not None:
        offers = offers.filter(agent_id=agent_id)
    expired = 0
    for item_id in offers.order_by("offer_expires_at").values_list("id", flat=True)[:limit]:
        # Locked one by one and checked again: expiring one may have expired others
        # (its agent set away returns their offers).
        item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",)).select_related("queue")
                .filter(pk=item_id, state=ItemState.OFFERED, offer_expires_at__lte=now).first())
        if item is None or _agent_lock(item.agent_id, skip_locked=True) is None:
            continue
        _offer_expire(item, now=now, present=present)
        _rematch_later(item)
        expired += 1
    return expired


def offers_expire(*, limit: int = 500) -> int:
    """Offers past their timeout go to the next agent (the sweep's share; matches, pulls,
    accepts and declines also expire those they meet). Idempotent: an offer already
    answered or expired is skipped."""
    now = timezone.now()
    expired = 0
    ids = list(WorkItem.objects.filter(state=ItemState.OFFERED, offer_expires_at__lte=now)
               .order_by("offer_expires_at").values_list("id", flat=True)[:limit])
    for item_id in ids:
        with transaction.atomic(), _unit_of_work():
            item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("queue")
                    .filter(pk=item_id, state=ItemState.OFFERED, offer_expires_at__lte=now).first())
            if item is None:
                continue
            profile = _offer_expire(item, now=now)
            _requeue_and_refill(item, profile, now=now)
            expired += 1
    return expired


def _close(item_id: int, *, state: str, user: Any = None, conversation_id: int | None = None) -> WorkItem | None:
    with transaction.atomic(), _unit_of_work():
        if conversation_id is not None:
            open_item = WorkItem.objects.filter(conversation_id=conversation_id,
                                                state__in=OPEN_STATES).first()
            if open_item is None:
                return None
            item_id = open_item.pk
        item = _item_lock(item_id)
        if item.state not in OPEN_STATES:
            return item  # already closed: idempotent
        now = timezone.now()
        profile = _agent_lock(item.agent_id, skip_locked=False) if item.agent_id else None
        item.state = state
        item.completed_at = now
        item.offer_expires_at = None
        item.save(update_fields=["state", "completed_at", "offer_expires_at"])
        _event(item, state, at=now, agent_id=item.agent_id,
               by=f"user:{user.pk}" if user is not None else "system")
        if profile is not None:
            _slots_channel_update(profile, item.channel, load=_held(profile.pk, item.channel))
            push.item_changed(user_id=profile.user_id, item=item, event=state)
            _agent_pull(profile, now=now, channels=(item.channel,))
    return item


def work_item_complete(*, item_id: int | None = None, conversation_id: int | None = None,
                       user: Any = None) -> WorkItem | None:
    """The work is done: the agent's capacity frees and they take the next waiting item."""
    return _close(item_id or 0, state=ItemState.COMPLETED, user=user, conversation_id=conversation_id)


def work_item_cancel(*, item_id: int | None = None, conversation_id: int | None = None,
                     user: Any = None) -> WorkItem | None:
    """The work is no longer needed (the customer left, the conversation was merged)."""
    return _close(item_id or 0, state=ItemState.CANCELLED, user=user, conversation_id=conversation_id)


def work_item_transfer(*, item_id: int, user: Any, queue_key: str | None = None,
                       agent_id: int | None = None, is_supervisor: bool = False) -> WorkItem:
    """Move an open item to another queue (it waits there and is matched again) or straight
    to an agent with room (assigned without an offer). Its agent or a supervisor may."""
    if (queue_key is None) == (agent_id is None):
        raise DomainError("Transfer to a queue or to an agent, not both or neither.",
                          code="transfer_target")
    with transaction.atomic(), _unit_of_work():
        item = _item_lock(item_id)
        if item.state not in OPEN_STATES:
            raise Conflict(f"Work item {item.pk} is {item.state}; only open items move.", code="closed")
        if not is_supervisor:
            _held_by(item, _agent_of(user), HELD_STATES)
        now = timezone.now()
        by = f"user:{user.pk}" if user is not None else "system"
        if queue_key is not None:
            queue = Queue.objects.filter(key=queue_key, is_active=True).first()
            if queue is None:
                raise NotFound(f"No active queue {queue_key!r}.")
            profile = _release(item, now=now, kind="transferred", to_queue=queue.key, by=by) \
                if item.agent_id else None
            _queue_move(item, queue, now=now)
            # An agent passing work on does not want it back; a supervisor's move starts afresh.
            item.declined_by = [profile.pk] if profile is not None and not is_supervisor else []
            item.save(update_fields=[*QUEUE_FIELDS, "declined_by"])
            if profile is None:
                _event(item, "transferred", at=now, to_queue=queue.key, by=by)
            _requeue_and_refill(item, profile, now=now)
            return item
        target = AgentProfile.objects.filter(pk=agent_id).first()
        if target is None:
            raise NotFound(f"No agent {agent_id}.")
        if target.pk == item.agent_id:
            raise Conflict("The item is with that agent already.", code="same_agent")
        # Both agents in id order, so two transfers crossing between them cannot deadlock.
        for pk in sorted({target.pk, item.agent_id} - {None}):
            _agent_lock(pk, skip_locked=False)
        previous = _release(item, now=now, kind="transferred", to_agent=target.pk, by=by) \
            if item.agent_id else None
        if previous is None:
            _event(item, "transferred", at=now, to_agent=target.pk, by=by)
        target = _agent_lock(target.pk, skip_locked=False)
        held = _room(target, item.channel, now=now)
        if held is None:
            raise Conflict(f"Agent {target.pk} is not online with room on {item.channel}.",
                           code="agent_unavailable")
        _claim(item, target, now=now, held=held, direct=True)
        if previous is not None:
            _agent_pull(previous, now=now, channels=(item.channel,))
    return item


QUEUE_FIELDS = ("queue", "queue_priority", "queued_at", "min_agent_tier", "required_skills",
                "optional_skills", "optional_relaxed", "rule_required_skills", "rule_optional_skills")


def _queue_move(item: WorkItem, queue: Queue, *, now: datetime) -> None:
    """Put an item in another queue (the caller saves QUEUE_FIELDS). It then needs what
    that queue needs: the first rule's skills applied to the way in, not to every queue."""
    item.queue = queue
    item.queue_priority = queue.priority
    item.queued_at = now
    item.min_agent_tier = queue.min_agent_tier
    item.required_skills = sorted(queue.required_skills)
    item.optional_skills = sorted(set(queue.optional_skills) - set(queue.required_skills))
    item.optional_relaxed = False
    item.rule_required_skills = item.rule_optional_skills = []


# --- presence ------------------------------------------------------------------------------------


def _presence_apply(profile: AgentProfile, presence: str, *, now: datetime, reassign: bool,
                    reason: str = "") -> None:
    """Set a locked agent's presence; offline (or away with reassignment) returns their open
    items to the queue, away returns the offers they have not answered."""
    previous = profile.presence
    profile.presence = presence
    profile.presence_since = now if presence != previous else profile.presence_since
    if presence == Presence.ONLINE:
        profile.last_heartbeat_at = now
        profile.missed_offers = 0
    profile.save(update_fields=["presence", "presence_since", "last_heartbeat_at", "missed_offers"])
    agent_slots_rebuild(profile)
    if presence != previous:
        push.presence_changed(user_id=profile.user_id, presence=presence, reason=reason)
    if presence == Presence.ONLINE:
        _agent_pull(profile, now=now)
        return
    states = HELD_STATES if presence == Presence.OFFLINE or reassign else (ItemState.OFFERED,)
    returned = list(WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("queue").filter(agent_id=profile.pk, state__in=states))
    for item in returned:
        kind = "requeued" if item.state == ItemState.ASSIGNED else "withdrawn"
        _release(item, now=now, kind=kind, reason=reason or f"agent {presence}")
    for item in returned:
        _item_match(item, now=now)


def presence_set(*, user: Any, presence: str, reassign: bool = False) -> AgentProfile:
    if presence not in Presence.values:
        raise DomainError(f"Unknown presence {presence!r}; use one of {', '.join(Presence.values)}.",
                          code="unknown_presence")
    profile = _agent_of(user)
    with transaction.atomic(), _unit_of_work():
        # Items first, then the agent: the order every other path locks in.
        list(WorkItem.objects.select_for_update(of=("self",))
             .filter(agent_id=profile.pk, state__in=HELD_STATES).values_list("id", flat=True))
        profile = _agent_lock(profile.pk, skip_locked=False)
        _presence_apply(profile, presence, now=timezone.now(), reassign=reassign)
    return profile


def heartbeat(*, user: Any) -> AgentProfile:
    """The agent's browser is still there. Heartbeats that stop set the agent offline."""
    profile = _agent_of(user)
    AgentProfile.objects.filter(pk=profile.pk).update(last_heartbeat_at=timezone.now())
    profile.refresh_from_db(fields=["presence", "last_heartbeat_at"])
    return profile


def agents_heartbeat_expire() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.ROUTING_HEARTBEAT_TIMEOUT_SECONDS)
    ids = list(AgentProfile.objects.exclude(presence=Presence.OFFLINE)
               .filter(Q(last_heartbeat_at__lt=cutoff) | Q(last_heartbeat_at__isnull=True))
               .values_list("id", flat=True)[:500])
    expired = 0
    for agent_id in ids:
        with transaction.atomic(), _unit_of_work():
            list(WorkItem.objects.select_for_update(of=("self",))
                 .filter(agent_id=agent_id, state__in=HELD_STATES).values_list("id", flat=True))
            profile = _agent_lock(agent_id, skip_locked=True)
            if profile is None or profile.presence == Presence.OFFLINE or (
                    profile.last_heartbeat_at and profile.last_heartbeat_at >= cutoff):
                continue
            _presence_apply(profile, Presence.OFFLINE, now=timezone.now(), reassign=True,
                            reason="no heartbeat")
            expired += 1
    return expired


def agent_settings_changed(*, profile_id: int) -> None:
    """After a supervisor edits an agent's languages, kinds, skills, tier or capacity:
    rebuild the slots and let the agent take waiting work that now fits."""
    with transaction.atomic(), _unit_of_work():
        list(WorkItem.objects.select_for_update(of=("self",))
             .filter(agent_id=profile_id, state__in=HELD_STATES).values_list("id", flat=True))
        profile = _agent_lock(profile_id, skip_locked=False)
        if profile is None:
            return
        agent_slots_rebuild(profile)
        _agent_pull(profile, now=timezone.now())


def queue_changed(*, queue_id: int) -> None:
    """After a supervisor edits a queue: its waiting items take its new priority, tier and
    skills (on top of what their rule added)."""
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None:
        return
    table = connection.ops.quote_name(WorkItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} SET queue_priority = %(priority)s, min_agent_tier = %(tier)s,
                required_skills = ARRAY(SELECT DISTINCT s FROM unnest(
                    array_cat(rule_required_skills, %(required)s::varchar[])) s ORDER BY s),
                optional_skills = ARRAY(SELECT DISTINCT s FROM unnest(
                    array_cat(rule_optional_skills, %(optional)s::varchar[])) s
                    WHERE s <> ALL(array_cat(rule_required_skills, %(required)s::varchar[])) ORDER BY s)
            WHERE queue_id = %(queue)s AND state = %(waiting)s""",
            {"priority": queue.priority, "tier": queue.min_agent_tier,
             "required": sorted(queue.required_skills), "optional": sorted(queue.optional_skills),
             "queue": queue_id, "waiting": ItemState.WAITING},
        )


# --- service levels ---------------------------------------------------------------------------------


def _waiting_past(seconds_expr: str, *, extra: str, limit: int, states: tuple[str, ...],
                  now: datetime) -> list[int]:
    """Open items whose wait passed a per-queue threshold (an SQL expression over the queue
    `q`) by `now`, oldest first. `now` is the caller's clock, the one the steps are then
    checked against under the lock (PostgreSQL's now() is the transaction's start)."""
    item, queue = WorkItem._meta.db_table, Queue._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.id FROM {item} i JOIN {queue} q ON q.id = i.queue_id "
            f"WHERE i.state = ANY(%(states)s) AND {extra} "
            f"AND i.enqueued_at <= %(now)s - make_interval(secs => {seconds_expr}) "
            f"ORDER BY i.enqueued_at LIMIT %(limit)s", {"states": list(states), "limit": limit, "now": now},
        )
        return [row[0] for row in cursor.fetchall()]


PRIORITY_MAX = 32767  # the column is a smallint


def _seconds(since: datetime, now: datetime) -> float:
    return (now - since).total_seconds()


SLA_STEPS = ("escalated", "relaxed", "overflowed", "breached")  # the order they are applied in


def _sla_due_at(item: WorkItem, kind: str) -> datetime | None:
    """When the step falls due for the item as it is now (under its lock: another sweep, a
    transfer or an overflow may have changed it since it was listed), or None when it does
    not apply to it."""
    queue = item.queue
    if kind == "escalated":
        if item.escalated_at is not None:
            return None
        return item.enqueued_at + timedelta(seconds=queue.target_wait_seconds * queue.escalate_at_percent / 100)
    if kind == "relaxed":
        if item.optional_relaxed or queue.relax_optional_after_seconds is None:
            return None
        return item.enqueued_at + timedelta(seconds=queue.relax_optional_after_seconds)
    if kind == "overflowed":
        if (queue.overflow_queue_id is None or queue.overflow_queue_id == queue.pk
                or queue.overflow_after_seconds is None):
            return None
        return item.queued_at + timedelta(seconds=queue.overflow_after_seconds)
    # Only a first answer can breach: work answered in time and moved on later did not.
    if item.sla_breached_at is not None or item.answered_at is not None:
        return None
    return item.enqueued_at + timedelta(seconds=queue.target_wait_seconds)


def _escalation_due(item: WorkItem, kind: str, *, now: datetime) -> bool:
    due = _sla_due_at(item, kind)
    return due is not None and due <= now


def _sla_catch_up(item: WorkItem, *, now: datetime, kinds: Iterable[str] = SLA_STEPS) -> list[str]:
    """Apply the locked item's service-level steps due by `now`, in SLA_STEPS order, each
    recorded at the time it fell due; returns the kinds applied.

    The sweep calls this, and so does every match, pull, claim and accept for the item it
    touches, so the steps do not wait for the beat. A breach is never recorded before its
    escalation: an item breaching un-escalated (offered when it would have been escalated,
    or nothing ran in between) is escalated first. Relaxing and overflowing are for
    waiting items only, and an offered item is escalated only on its way to a breach."""
    applied: list[str] = []
    waiting = item.state == ItemState.WAITING
    for kind in SLA_STEPS:
        if kind not in kinds and not (kind == "escalated" and "breached" in kinds):
            continue
        if not waiting and kind in ("relaxed", "overflowed"):
            continue
        due = _sla_due_at(item, kind)
        if due is None or due > now:
            continue
        if kind == "escalated" and not waiting and not _escalation_due(item, "breached", now=now):
            continue
        if kind == "breached" and item.escalated_at is not None:
            due = max(due, item.escalated_at)  # an overflow may have shortened the target
        _escalation_apply(item, kind, at=due, now=now)
        applied.append(kind)
    return applied


def sla_sweep(*, limit: int = 500) -> dict[str, int]:
    """Escalate waiting items at the queue's share of its target (raise priority, relax
    optional skills), relax optional skills after the queue's relax wait, move items past
    the overflow wait to the overflow queue, and record breaches (of waiting items and of
    offers nobody answered in time): for each item listed, every step due is applied, in
    order (`_sla_catch_up`). Each item is re-checked under its lock, so running sweeps twice
    or at once changes nothing more; an item whose step fails is logged and left for the
    next sweep, without stopping the others."""
    counts = dict.fromkeys(SLA_STEPS, 0)
    waiting, unanswered = (ItemState.WAITING,), (ItemState.WAITING, ItemState.OFFERED)
    steps = (
        ("escalated", "q.target_wait_seconds * q.escalate_at_percent / 100.0",
         "i.escalated_at IS NULL", waiting),
        ("relaxed", "q.relax_optional_after_seconds",
         "NOT i.optional_relaxed AND q.relax_optional_after_seconds IS NOT NULL", waiting),
        ("overflowed", "q.overflow_after_seconds",
         "q.overflow_queue_id IS NOT NULL AND q.overflow_after_seconds IS NOT NULL "
         "AND i.queued_at <= %(now)s - make_interval(secs => q.overflow_after_seconds)", waiting),
        ("breached", "q.target_wait_seconds", "i.sla_breached_at IS NULL AND i.answered_at IS NULL",
         unanswered),
    )
    for kind, seconds, extra, states in steps:
        for item_id in _waiting_past(seconds, extra=extra, limit=limit, states=states, now=timezone.now()):
            try:
                with transaction.atomic(), _unit_of_work():
                    item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                            .select_related("queue", "queue__overflow_queue")
                            .filter(pk=item_id, state__in=states).first())
                    if item is None:
                        continue
                    now = timezone.now()
                    applied = _sla_catch_up(item, now=now)
                    for done in applied:
                        counts[done] += 1
                    if item.state == ItemState.WAITING and set(applied) - {"breached"}:
                        _item_match(item, now=now)
            except DatabaseError:
                log.exception("Routing sweep: %s of item %s failed; it is tried again next sweep", kind, item_id)
    return counts


def _escalation_apply(item: WorkItem, kind: str, *, at: datetime, now: datetime) -> None:
    """Apply one step to a locked item, recorded at `at` (when it fell due); an item moving
    to another queue enters it `now`."""
    queue = item.queue
    if kind == "escalated":
        item.escalated_at = at
        item.priority = min(item.priority + queue.escalation_priority_boost, PRIORITY_MAX)
        relaxed = bool(item.optional_skills) and not item.optional_relaxed
        item.optional_relaxed = True
        # Those who declined it may take it now rather than let it breach.
        item.declined_by = []
        item.save(update_fields=["escalated_at", "priority", "optional_relaxed", "declined_by"])
        _event(item, "escalated", at=at, priority=item.priority, relaxed_optional_skills=relaxed)
    elif kind == "relaxed":
        item.optional_relaxed = True
        item.save(update_fields=["optional_relaxed"])
        _event(item, "relaxed", at=at, skills=item.optional_skills)
    elif kind == "overflowed":
        target = queue.overflow_queue
        _event(item, "overflowed", at=at, to_queue=target.key)
        _queue_move(item, target, now=now)
        item.declined_by = []
        item.save(update_fields=[*QUEUE_FIELDS, "declined_by"])
    else:
        item.sla_breached_at = at
        item.save(update_fields=["sla_breached_at"])
        _event(item, "breached", at=at, waited_seconds=int((at - item.enqueued_at).total_seconds()))


_rematch_after: tuple[datetime, int] | None = None  # where this process's last pass stopped


def waiting_rematch(*, limit: int = 50) -> int:
    """The safety net: try waiting items again, `limit` per call, oldest first, going on
    from where the last call stopped and starting over at the end, so items nobody can
    take do not hold the others back. Returns how many were placed."""
    global _rematch_after
    waiting = WorkItem.objects.filter(state=ItemState.WAITING)
    if _rematch_after is not None:
        at, pk = _rematch_after
        waiting = waiting.filter(Q(enqueued_at__gt=at) | Q(enqueued_at=at, pk__gt=pk))
    rows = list(waiting.order_by("enqueued_at", "id").values_list("enqueued_at", "id")[:limit])
    _rematch_after = rows[-1] if len(rows) == limit else None
    return sum(1 for _, item_id in rows if work_item_match(item_id=item_id))


def routing_sweep() -> dict[str, int]:
    """Everything time-driven, for the beat: expire offers, expire silent agents, escalate,
    then re-run the match for the longest-waiting items."""
    result = {"offers_expired": offers_expire(), "agents_expired": agents_heartbeat_expire()}
    result.update(sla_sweep())
    result["rematched"] = waiting_rematch()
    return result
