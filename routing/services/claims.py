"""The slot index and the claim: ranking agents from the slots, locking an agent and
counting their room, giving a locked item to a locked agent (`claim`) and taking it back
(`release`)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q

from routing import engine, push, selectors
from routing.models import (
    CHANNELS,
    HELD_STATES,
    AgentProfile,
    AgentSlot,
    ItemState,
    Presence,
    Strategy,
    WorkItem,
)
from routing.models import WorkItemEventKind as EventKind
from routing.services import events, items, sla
from routing.services.config import CANDIDATES
from supportdesk.errors import Conflict, NotFound

_ITEM, _AGENT, _SLOT = WorkItem._meta.db_table, AgentProfile._meta.db_table, AgentSlot._meta.db_table
_SLOT_CONDITIONS = ("available AND channel = %(channel)s AND language = %(language)s"
                    " AND contact_kind = %(contact_kind)s AND tier >= %(tier)s")
_LONGEST_IDLE_ORDER = "last_assigned_at ASC NULLS FIRST, agent_id ASC"
_MOST_SPARE_ORDER = f"spare_permille DESC, {_LONGEST_IDLE_ORDER}"

# --- agents as the engine sees them --------------------------------------------------------


def engine_agent(profile: AgentProfile, load: Mapping[str, int]) -> engine.Agent:
    return engine.Agent(
        id=profile.pk, presence=profile.presence, languages=frozenset(profile.languages),
        contact_kinds=frozenset(profile.contact_kinds), skills=frozenset(profile.skills),
        capacity={channel: profile.capacity_for(channel) for channel in CHANNELS}, load=dict(load),
        last_assigned_at=profile.last_assigned_at, tier=profile.tier,
    )


def engine_item(item: WorkItem, *, now: datetime | None = None) -> engine.Item:
    """The item as the engine sees it; at `now`, those who declined it are out only while
    their pause lasts (`decliners_kept_out`), without one they all are."""
    declined = decliners_kept_out(item, now=now) if now is not None else frozenset(item.declined_by)
    return engine.Item(
        id=item.pk or 0, channel=item.channel, language=item.language, contact_kind=item.contact_kind,
        priority=item.priority, enqueued_at=item.enqueued_at,
        required_skills=frozenset(item.required_skills), optional_skills=frozenset(item.optional_skills),
        optional_relaxed=item.optional_relaxed, min_tier=item.min_agent_tier,
        declined_by=declined,
    )


def decliners_kept_out(item: WorkItem, *, now: datetime) -> frozenset[int]:
    """Who declined the item (or let its offer time out) and may not have it at `now`: all
    of them until ROUTING_DECLINE_PAUSE_SECONDS after the last decline, none after, so an
    item nobody else took goes back to them rather than wait for its escalation. Without
    a decline time (an agent who transferred it away) they stay out until it escalates.
    `decline_pause_over` is the same rule in SQL."""
    if item.declined_at is not None and item.declined_at <= now - decline_pause():
        return frozenset()
    return frozenset(item.declined_by)


def decline_pause() -> timedelta:
    return timedelta(seconds=settings.ROUTING_DECLINE_PAUSE_SECONDS)


def decline_pause_over(now: datetime) -> Q:
    """Items whose decliners may have them again at `now` (see `decliners_kept_out`)."""
    return Q(declined_at__lte=now - decline_pause())


def _slot_query(item: WorkItem, *, strategy: str, exclude: Iterable[int] = (),
                limit: int = CANDIDATES, now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """The slot index read, best first by the strategy: agents online with room on the
    item's channel, its language and contact kind, tier and skills, none it must skip and
    none kept from it for declining it (at `now`; without it, every decliner is).

    Written as SQL rather than built through the ORM: it runs at least once for every
    decision, and compiling the queryset cost more of this process's CPU than PostgreSQL
    spends answering it. Its conditions and order are those of the partial indexes
    `slot_longest_idle` and `slot_most_spare` (routing.models.AgentSlot)."""
    skills = list(item.required_skills)
    if not item.optional_relaxed:
        skills += [skill for skill in item.optional_skills if skill not in skills]
    params: dict[str, Any] = {"channel": item.channel, "language": item.language,
                              "contact_kind": item.contact_kind, "tier": item.min_agent_tier, "limit": limit}
    conditions = _SLOT_CONDITIONS
    if skills:
        conditions += " AND skills @> %(skills)s::varchar(64)[]"
        params["skills"] = skills
    declined = decliners_kept_out(item, now=now) if now is not None else set(item.declined_by)
    excluded = sorted(set(declined) | set(exclude))
    if excluded:
        conditions += " AND agent_id <> ALL(%(excluded)s::bigint[])"
        params["excluded"] = excluded
    order = _MOST_SPARE_ORDER if strategy == Strategy.MOST_SPARE_CAPACITY else _LONGEST_IDLE_ORDER
    return f"SELECT agent_id FROM {_SLOT} WHERE {conditions} ORDER BY {order} LIMIT %(limit)s", params


def slot_candidates(item: WorkItem, *, strategy: str, exclude: Iterable[int] = (),
                    limit: int = CANDIDATES, now: datetime | None = None) -> list[int]:
    """Agent ids, best first by the strategy, from the slot index: online, with room on
    the item's channel, its language and contact kind, tier and skills, and not kept
    from it for declining it (at `now`; without it, every decliner is)."""
    query, params = _slot_query(item, strategy=strategy, exclude=exclude, limit=limit, now=now)
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [agent_id for (agent_id,) in cursor.fetchall()]


# --- slots -----------------------------------------------------------------------------------


VOICE = "voice"


def _blocked_by_call(profile: AgentProfile, channel: str, on_call: bool) -> bool:
    """An agent on a call takes nothing on the other channels while their profile says so."""
    return on_call and channel != VOICE and profile.no_chats_on_call


def channels_freed(item: WorkItem) -> tuple[str, ...]:
    """Where an agent gained room when this item left them: its channel, or every channel
    when it was a call (its end opens the channels the call closed)."""
    return CHANNELS if item.channel == VOICE else (item.channel,)


def on_call(profile_id: int) -> bool:
    """Whether the agent holds an assigned voice item (a call they answered, or its wrap-up)."""
    return WorkItem.objects.filter(agent_id=profile_id, channel=VOICE, state=ItemState.ASSIGNED).exists()


def _slot_state(profile: AgentProfile, channel: str, load: int, on_call: bool = False) -> tuple[bool, int]:
    capacity = profile.capacity_for(channel)
    spare = max(capacity - load, 0)
    available = (profile.presence == Presence.ONLINE and spare > 0
                 and not _blocked_by_call(profile, channel, on_call))
    return available, engine.spare_permille(spare, capacity)


def agent_slots_rebuild(profile: AgentProfile) -> None:
    """Rewrite the agent's slots from the profile and its held items (profile locked or new)."""
    AgentSlot.objects.filter(agent_id=profile.pk).delete()
    load = selectors.agents_load(agent_ids=[profile.pk]).get(profile.pk, {})
    calling = profile.no_chats_on_call and on_call(profile.pk)
    slots = []
    for channel in CHANNELS:
        if profile.capacity_for(channel) <= 0:
            continue
        available, spare = _slot_state(profile, channel, load.get(channel, 0), calling)
        for language, kind in itertools.product(profile.languages, profile.contact_kinds):
            slots.append(AgentSlot(
                agent_id=profile.pk, channel=channel, language=language, contact_kind=kind,
                tier=profile.tier, skills=list(profile.skills), available=available,
                spare_permille=spare, last_assigned_at=profile.last_assigned_at,
            ))
    AgentSlot.objects.bulk_create(slots)


def slots_channel_update(profile: AgentProfile, channel: str, *, load: int) -> None:
    """Refresh the agent's slots on one channel. Their last assignment is per channel: it
    is what "longest idle" ranks by there, and leaving the other channels' rows alone
    keeps a claim to a handful of row writes."""
    if channel == VOICE and profile.no_chats_on_call:
        agent_slots_rebuild(profile)  # a call starting or ending opens or closes the other channels
        return
    available, spare = _slot_state(profile, channel, load, on_call(profile.pk) and profile.no_chats_on_call)
    AgentSlot.objects.filter(agent_id=profile.pk, channel=channel).update(
        last_assigned_at=profile.last_assigned_at, available=available, spare_permille=spare)


def held_count(profile_id: int, channel: str) -> int:
    return WorkItem.objects.filter(agent_id=profile_id, state__in=HELD_STATES, channel=channel).count()


# --- claiming ----------------------------------------------------------------------------------


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


def claim(item: WorkItem, profile: AgentProfile, *, now: datetime, held: int,
          direct: bool = False) -> None:
    """Give a locked waiting item to a locked agent with room (holding `held` items on its
    channel before this one): an offer, or an assignment when the queue assigns directly
    (or `direct`)."""
    # Escalation and breach due by now are recorded first, in that order (the item reaching
    # an agent is when the beat-less desk notices them).
    sla.sla_catch_up(item, now=now, kinds=(EventKind.ESCALATED, EventKind.BREACHED))
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
    if item.channel == VOICE and item.state == ItemState.ASSIGNED and profile.no_chats_on_call:
        agent_slots_rebuild(profile)  # on a call now: the other channels close
    events.event_record(item, EventKind(item.state), at=now, agent_id=profile.pk)
    push.item_changed(user_id=profile.user_id, item=item, event=item.state)


def agent_lock(agent_id: int, *, skip_locked: bool) -> AgentProfile | None:
    qs = AgentProfile.objects.select_for_update(skip_locked=skip_locked).filter(pk=agent_id)
    return qs.first()


def _room_given(profile: AgentProfile, channel: str, held: int, calls: int = 0) -> int | None:
    """`held` when an agent holding that many items on the channel (and `calls` assigned
    voice items) has room, else None."""
    if profile.presence != Presence.ONLINE or _blocked_by_call(profile, channel, calls > 0):
        return None
    return held if held < profile.capacity_for(channel) else None


_HELD_AND_LAPSED_SQL = (
    f"SELECT count(*) FILTER (WHERE channel = %(channel)s), "
    f"count(*) FILTER (WHERE state = '{ItemState.OFFERED}' AND offer_expires_at <= %(now)s), "
    f"count(*) FILTER (WHERE channel = '{VOICE}' AND state = '{ItemState.ASSIGNED}') "
    f"FROM {_ITEM} WHERE agent_id = %(agent)s AND state IN ('{ItemState.OFFERED}', '{ItemState.ASSIGNED}')"
)


def room(profile: AgentProfile, channel: str, *, now: datetime) -> int | None:
    """How many items a locked agent holds on the channel, or None when they have no room.
    Their offers past the timeout are expired first, so they hold no room."""
    if profile.presence != Presence.ONLINE:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_HELD_AND_LAPSED_SQL, {"agent": profile.pk, "channel": channel, "now": now})
        held, lapsed, calls = cursor.fetchone()
    if lapsed:
        held = _own_offers_lapse(profile, channel, now=now)
    return _room_given(profile, channel, held, calls)


def _own_offers_lapse(profile: AgentProfile, channel: str, *, now: datetime) -> int:
    """Expire a locked agent's offers past their timeout and count again what they hold
    on the channel (the misses may have set them away: the profile is read again)."""
    items.offers_lapse(now=now, agent_id=profile.pk)
    profile.refresh_from_db(fields=["presence", "missed_offers"])
    return held_count(profile.pk, channel)


_PROFILE_COLUMNS = [field.column for field in AgentProfile._meta.concrete_fields]
_LOCK_AND_HELD_SQL = (
    f"SELECT {', '.join(_PROFILE_COLUMNS)} FROM {_AGENT} WHERE id = %(agent)s FOR UPDATE SKIP LOCKED; "
    + _HELD_AND_LAPSED_SQL
)
# The agent `agent_lock_best` locked, for its second statement; local to the transaction.
_LOCKED_AGENT_SETTING = "routing.locked_agent"


def _profile_from_row(row: Iterable[Any]) -> AgentProfile:
    values = dict(zip(_PROFILE_COLUMNS, row, strict=True))
    if isinstance(values["capacity"], str):  # Django reads jsonb as text and decodes it in the ORM
        values["capacity"] = json.loads(values["capacity"])
    profile = AgentProfile(**{field.attname: values[field.column] for field in AgentProfile._meta.concrete_fields})
    profile._state.adding, profile._state.db = False, connection.alias
    return profile


def agent_lock_room(agent_id: int, channel: str, *, now: datetime) -> tuple[AgentProfile | None, int | None]:
    """Lock an agent unless another worker holds them (SKIP LOCKED), and count what they
    hold on the channel once the lock is ours: the `agent_lock` and `room` of the match,
    in one round trip (the count is a second statement, so it sees the locked state). Their
    offers past the timeout, if any, are expired first."""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_AND_HELD_SQL, {"agent": agent_id, "channel": channel, "now": now})
        row = cursor.fetchone()
        cursor.nextset()
        held, lapsed, calls = cursor.fetchone()
    if row is None:
        return None, None
    profile = _profile_from_row(row)
    if lapsed and profile.presence == Presence.ONLINE:
        held = _own_offers_lapse(profile, channel, now=now)
    return profile, _room_given(profile, channel, held, calls)


def agent_lock_best(item: WorkItem, *, strategy: str, exclude: Iterable[int] = (),
                    now: datetime) -> tuple[AgentProfile | None, int | None, list[int]]:
    """`slot_candidates` and `agent_lock_room` of the best of them another worker does not
    hold, in one round trip: the match's read of the slot index, its lock and its count of
    the agent's room were three.

    Returns the locked agent (None when every candidate is held by another worker, or there
    is none), what they hold on the item's channel when they have room (else None), and the
    candidates read. The count is a second statement, so it sees the state the lock
    protects (what another worker committed before we took it); the first one leaves the
    agent it locked in a setting local to the transaction for it to read."""
    candidates, params = _slot_query(item, strategy=strategy, exclude=exclude, now=now)
    statement = f"""
        WITH candidates AS (SELECT ARRAY({candidates}) AS ids),
        locked AS (
            SELECT {', '.join(f'agent.{column}' for column in _PROFILE_COLUMNS)}
            FROM candidates, unnest(candidates.ids) WITH ORDINALITY AS candidate(agent_id, rank)
            JOIN {_AGENT} agent ON agent.id = candidate.agent_id
            ORDER BY candidate.rank LIMIT 1
            FOR UPDATE OF agent SKIP LOCKED
        )
        SELECT set_config('{_LOCKED_AGENT_SETTING}', coalesce((SELECT id FROM locked), 0)::text, true),
               (SELECT ids FROM candidates), locked.*
        FROM (VALUES (1)) AS one LEFT JOIN locked ON true;
    """ + _HELD_AND_LAPSED_SQL.replace("%(agent)s", f"current_setting('{_LOCKED_AGENT_SETTING}')::bigint")
    with connection.cursor() as cursor:
        cursor.execute(statement, {**params, "now": now})
        _setting, ids, *row = cursor.fetchone()
        cursor.nextset()
        held, lapsed, calls = cursor.fetchone()
    if row[0] is None:
        return None, None, list(ids)
    profile = _profile_from_row(row)
    if lapsed and profile.presence == Presence.ONLINE:
        held = _own_offers_lapse(profile, item.channel, now=now)
    return profile, _room_given(profile, item.channel, held, calls), list(ids)


def item_lock(item_id: int) -> WorkItem:
    item = (WorkItem.objects.select_for_update(of=("self",)).select_related("queue")
            .filter(pk=item_id).first())
    if item is None:
        raise NotFound(f"Work item {item_id} does not exist.")
    return item


def release(item: WorkItem, *, now: datetime, kind: str, decline: bool = False,
            **detail: Any) -> AgentProfile | None:
    """Take a held item back from its agent (item locked); returns the agent, locked."""
    agent_id = item.agent_id
    profile = agent_lock(agent_id, skip_locked=False) if agent_id else None
    if decline and agent_id:
        if agent_id not in item.declined_by:
            item.declined_by = [*item.declined_by, agent_id]
        item.declined_at = now  # their pause (and any earlier decliner's) starts again
    previous = item.state
    item.state = ItemState.WAITING
    item.agent_id = None
    item.offered_at = item.offer_expires_at = item.assigned_at = None
    item.save(update_fields=["state", "agent", "offered_at", "offer_expires_at", "assigned_at",
                             "declined_by", "declined_at"])
    events.event_record(item, kind, at=now, agent_id=agent_id, **detail)
    if profile is not None:
        slots_channel_update(profile, item.channel, load=held_count(profile.pk, item.channel))
        push.item_changed(user_id=profile.user_id, item=item, event=kind, previous=previous)
    return profile


def agent_of(user: Any) -> AgentProfile:
    return selectors.agent_get(user=user)


def held_by(item: WorkItem, profile: AgentProfile, states: Iterable[str]) -> None:
    if item.agent_id != profile.pk or item.state not in states:
        raise Conflict(f"Work item {item.pk} is not {' or '.join(states)} to you.",
                       code="not_yours")
