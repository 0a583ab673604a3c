"""Work item use cases: enqueue, accept, decline, offer expiry, complete, cancel, transfer."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from routing import push, service_levels
from routing.models import (
    HELD_STATES,
    OPEN_STATES,
    AgentProfile,
    ItemState,
    Presence,
    PresenceReason,
    Queue,
    WorkItem,
)
from routing.models import WorkItemEventKind as EventKind
from routing.services import claims, config, events, matching, presence, sla
from routing.services.config import CANDIDATES
from supportdesk.errors import Conflict, DomainError, NotFound

log = logging.getLogger(__name__)


def work_item_enqueue(
    *,
    conversation_id: int,
    channel: str,
    attributes: Mapping[str, Any] | None = None,
    priority: int = 0,
    preferred_agent_id: int | None = None,
    queue_key: str | None = None,
) -> WorkItem:
    """Route a conversation that needs an agent and offer it to the best free one.

    `queue_key` names the queue outright (a task opened in a given queue), passing the
    rules over; it must be an active queue.

    Idempotent per conversation: while it has an open item, that item is returned.
    `preferred_agent_id` (an agent profile id) gets the item first if eligible and free;
    by default that is the agent of the conversation's last item, so a reopened
    conversation goes back to its last agent.
    """
    values = config.attributes_normalise(channel=channel, attributes=attributes)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise DomainError("Priority must be a whole number.", code="invalid_priority")
    try:
        with transaction.atomic(), events.unit_of_work():
            # The conversation's latest item: still open (return it), or who had it last.
            latest = (WorkItem.objects.filter(conversation_id=conversation_id).order_by("-enqueued_at")
                      .only("id", "state", "agent_id").first())
            if latest is not None and latest.state in OPEN_STATES:
                return WorkItem.objects.select_related("queue").get(pk=latest.pk)
            if preferred_agent_id is None and latest is not None:
                preferred_agent_id = latest.agent_id
            route = (config.route_find(attributes=values, priority=priority) if queue_key is None
                     else _route_to(queue_key, priority))
            now = timezone.now()
            item = work_item_build(conversation_id=conversation_id, channel=channel, values=values, route=route,
                                   at=now)
            item.save(force_insert=True)
            events.event_record(item, EventKind.QUEUED, at=now, rule=route.rule, queue=route.queue.key)
            matching.item_match(item, now=now, preferred_agent_id=preferred_agent_id)
    except IntegrityError:
        # Another request enqueued the same conversation a moment ago: that item stands.
        item = WorkItem.objects.filter(conversation_id=conversation_id, state__in=OPEN_STATES).first()
        if item is None:
            raise
    return item


def _route_to(queue_key: str, priority: int) -> config.Route:
    queue = Queue.objects.filter(key=queue_key, is_active=True).first()
    if queue is None:
        raise NotFound(_("No active queue %(queue)s.") % {"queue": queue_key})
    return config.Route(rule="", queue=queue, priority=priority,
                        required_skills=frozenset(queue.required_skills),
                        optional_skills=frozenset(queue.optional_skills))


def work_item_build(*, conversation_id: int, channel: str, values: dict[str, Any], route: config.Route,
                    at: datetime) -> WorkItem:
    """The new item (unsaved) for these normalised attributes and their route, arriving `at`:
    what enqueuing writes, and what a bulk writer of past work (the demo's history) starts from."""
    item = WorkItem(
        conversation_id=conversation_id, channel=channel, attributes=values,
        language=values["language"], contact_kind=values["contact_kind"], queue=route.queue,
        queue_priority=route.queue.priority, priority=route.priority,
        required_skills=sorted(route.required_skills),
        optional_skills=sorted(route.optional_skills - route.required_skills),
        rule_required_skills=sorted(route.rule_required_skills),
        rule_optional_skills=sorted(route.rule_optional_skills),
        min_agent_tier=route.queue.min_agent_tier, rule=route.rule, enqueued_at=at, queued_at=at,
    )
    service_levels.deadlines_apply(item, route.queue)  # in business time where the queue keeps hours
    return item


def work_item_match(*, item_id: int) -> bool:
    """Try once more to place a waiting item (the sweeper's safety net); idempotent."""
    with transaction.atomic(), events.unit_of_work():
        item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("queue").filter(pk=item_id, state=ItemState.WAITING).first())
        return item is not None and matching.item_match(item, now=timezone.now())


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
    return last == EventKind.EXPIRED


def offer_accept(*, item_id: int, user: Any) -> WorkItem:
    """The agent takes the item offered to them. An offer past its timeout is refused with
    `offer_expired` (409), and expired in the same call: the item is offered to the next
    eligible agent before the refusal returns (committed even when the caller's own
    transaction wraps this one, provided it lets `OfferExpired` out of its block: see
    `OfferExpired`)."""
    profile = claims.agent_of(user)
    with transaction.atomic(), events.unit_of_work():
        item = claims.item_lock(item_id)
        if item.agent_id != profile.pk and _expired_from(item, profile):
            raise OfferExpired()  # a sweep or another use case expired it a moment before
        claims.held_by(item, profile, (ItemState.OFFERED,))
        now = timezone.now()
        late = _offer_lapsed(item, now=now)
        if late:
            locked = _offer_expire(item, now=now, present=True)
            _requeue_and_refill(item, locked, now=now)
        else:
            # The agent's other offers past their timeout go on to others, not counted as
            # misses: answering shows they are there.
            offers_lapse(now=now, agent_id=profile.pk, present=True)
            # Accepted too late for its target.
            sla.sla_catch_up(item, now=now, kinds=(EventKind.ESCALATED, EventKind.BREACHED))
            item.state = ItemState.ASSIGNED
            item.assigned_at = now
            item.answered_at = item.answered_at or now
            item.offer_expires_at = None
            item.save(update_fields=["state", "assigned_at", "answered_at", "offer_expires_at"])
            AgentProfile.objects.filter(pk=profile.pk).update(missed_offers=0)
            if item.channel == claims.VOICE and profile.no_chats_on_call:
                claims.agent_slots_rebuild(profile)  # on a call now: the other channels close
            events.event_record(item, EventKind.ACCEPTED, at=now, agent_id=profile.pk)
            push.item_changed(user_id=profile.user_id, item=item, event=EventKind.ACCEPTED)
    if late:
        raise OfferExpired()
    return item


def _requeue_and_refill(item: WorkItem, profile: AgentProfile | None, *, now: datetime) -> None:
    """After an item left an agent: find it someone else, then let the agent refill."""
    matching.item_match(item, now=now)
    if profile is not None:
        matching.agent_pull(profile, now=now, channels=claims.channels_freed(item))


def offer_decline(*, item_id: int, user: Any, reason: str = "") -> WorkItem:
    profile = claims.agent_of(user)
    with transaction.atomic(), events.unit_of_work():
        item = claims.item_lock(item_id)
        if profile.pk in item.declined_by and item.agent_id != profile.pk:
            return item  # declined (or let go) already: a decline sent again changes nothing
        claims.held_by(item, profile, (ItemState.OFFERED,))
        now = timezone.now()
        offers_lapse(now=now, agent_id=profile.pk, present=True)  # as in offer_accept
        locked = claims.release(item, now=now, kind=EventKind.DECLINED, decline=True, reason=reason[:200])
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
                    sla.seconds_between(item.offer_expires_at, now))
    profile = claims.release(item, now=now, kind=EventKind.EXPIRED, decline=present or not unseen, **detail)
    if profile is not None and not (unseen or present):
        profile.missed_offers += 1
        profile.save(update_fields=["missed_offers"])
        if profile.missed_offers >= settings.ROUTING_MISSED_OFFERS_AWAY and profile.presence == Presence.ONLINE:
            presence.presence_apply(profile, Presence.AWAY, now=now, reassign=False,
                                    reason=PresenceReason.MISSED_OFFERS)
    return profile


def offers_lapse(*, now: datetime, channel: str | None = None, agent_id: int | None = None,
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
        if item is None or claims.agent_lock(item.agent_id, skip_locked=True) is None:
            continue
        _offer_expire(item, now=now, present=present)
        events.rematch_later(item)
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
        with transaction.atomic(), events.unit_of_work():
            item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("queue")
                    .filter(pk=item_id, state=ItemState.OFFERED, offer_expires_at__lte=now).first())
            if item is None:
                continue
            profile = _offer_expire(item, now=now)
            _requeue_and_refill(item, profile, now=now)
            expired += 1
    return expired


def _close(item_id: int, *, state: str, user: Any = None, conversation_id: int | None = None,
           at: datetime | None = None, reason: str = "") -> WorkItem | None:
    """Close an open item. `at` backdates its end (the moment the customer left, noticed later),
    kept between its enqueueing and now; `reason` goes into its history (e.g. "abandoned")."""
    with transaction.atomic(), events.unit_of_work():
        if conversation_id is not None:
            open_item = WorkItem.objects.filter(conversation_id=conversation_id,
                                                state__in=OPEN_STATES).first()
            if open_item is None:
                return None
            item_id = open_item.pk
        item = claims.item_lock(item_id)
        if item.state not in OPEN_STATES:
            return item  # already closed: idempotent
        now = timezone.now()
        ended = now if at is None else max(min(at, now), item.enqueued_at)
        profile = claims.agent_lock(item.agent_id, skip_locked=False) if item.agent_id else None
        item.state = state
        item.completed_at = ended
        item.offer_expires_at = None
        item.save(update_fields=["state", "completed_at", "offer_expires_at"])
        events.event_record(item, EventKind(state), at=ended, agent_id=item.agent_id,
                            by=f"user:{user.pk}" if user is not None else "system",
                            **({"reason": reason} if reason else {}))
        if profile is not None:
            claims.slots_channel_update(profile, item.channel, load=claims.held_count(profile.pk, item.channel))
            push.item_changed(user_id=profile.user_id, item=item, event=state)
            matching.agent_pull(profile, now=now, channels=claims.channels_freed(item))
    return item


def work_item_complete(*, item_id: int | None = None, conversation_id: int | None = None,
                       user: Any = None) -> WorkItem | None:
    """The work is done: the agent's capacity frees and they take the next waiting item."""
    return _close(item_id or 0, state=ItemState.COMPLETED, user=user, conversation_id=conversation_id)


def work_item_cancel(*, item_id: int | None = None, conversation_id: int | None = None,
                     user: Any = None, at: datetime | None = None, reason: str = "") -> WorkItem | None:
    """The work is no longer needed (the customer left, the conversation was merged).

    `at`: when it stopped being needed, if that was before now (a chat whose visitor went
    away, noticed by a sweep later): the item's `completed_at` and its history say so.
    `reason` is kept in its history ("abandoned": the customer left before an answer)."""
    return _close(item_id or 0, state=ItemState.CANCELLED, user=user, conversation_id=conversation_id,
                  at=at, reason=reason)


def work_item_transfer(*, item_id: int, user: Any, queue_key: str | None = None,
                       agent_id: int | None = None, is_supervisor: bool = False) -> WorkItem:
    """Move an open item to another queue (it waits there and is matched again) or straight
    to an agent with room (assigned without an offer). Its agent or a supervisor may."""
    if (queue_key is None) == (agent_id is None):
        raise DomainError("Transfer to a queue or to an agent, not both or neither.",
                          code="transfer_target")
    with transaction.atomic(), events.unit_of_work():
        item = claims.item_lock(item_id)
        if item.state not in OPEN_STATES:
            raise Conflict(f"Work item {item.pk} is {item.state}; only open items move.", code="closed")
        if not is_supervisor:
            claims.held_by(item, claims.agent_of(user), HELD_STATES)
        now = timezone.now()
        by = f"user:{user.pk}" if user is not None else "system"
        if queue_key is not None:
            queue = Queue.objects.filter(key=queue_key, is_active=True).first()
            if queue is None:
                raise NotFound(f"No active queue {queue_key!r}.")
            profile = claims.release(item, now=now, kind=EventKind.TRANSFERRED, to_queue=queue.key, by=by) \
                if item.agent_id else None
            queue_move(item, queue, now=now)
            # An agent passing work on does not want it back; a supervisor's move starts afresh.
            item.declined_by = [profile.pk] if profile is not None and not is_supervisor else []
            item.declined_at = None  # no pause: kept from them until it escalates
            item.save(update_fields=[*QUEUE_FIELDS, "declined_by", "declined_at"])
            if profile is None:
                events.event_record(item, EventKind.TRANSFERRED, at=now, to_queue=queue.key, by=by)
            _requeue_and_refill(item, profile, now=now)
            return item
        target = AgentProfile.objects.filter(pk=agent_id).first()
        if target is None:
            raise NotFound(f"No agent {agent_id}.")
        if target.pk == item.agent_id:
            raise Conflict("The item is with that agent already.", code="same_agent")
        # Both agents in id order, so two transfers crossing between them cannot deadlock.
        for pk in sorted({target.pk, item.agent_id} - {None}):
            claims.agent_lock(pk, skip_locked=False)
        previous = claims.release(item, now=now, kind=EventKind.TRANSFERRED, to_agent=target.pk, by=by) \
            if item.agent_id else None
        if previous is None:
            events.event_record(item, EventKind.TRANSFERRED, at=now, to_agent=target.pk, by=by)
        target = claims.agent_lock(target.pk, skip_locked=False)
        held = claims.room(target, item.channel, now=now)
        if held is None:
            raise Conflict(f"Agent {target.pk} is not online with room on {item.channel}.",
                           code="agent_unavailable")
        claims.claim(item, target, now=now, held=held, direct=True)
        if previous is not None:
            matching.agent_pull(previous, now=now, channels=claims.channels_freed(item))
    return item


QUEUE_FIELDS = ("queue", "queue_priority", "queued_at", "min_agent_tier", "required_skills",
                "optional_skills", "optional_relaxed", "rule_required_skills", "rule_optional_skills",
                *service_levels.DEADLINE_FIELDS)


def queue_move(item: WorkItem, queue: Queue, *, now: datetime) -> None:
    """Put an item in another queue (the caller saves QUEUE_FIELDS). It then needs what
    that queue needs: the first rule's skills applied to the way in, not to every queue, and
    its service-level deadlines in that queue's time (business or calendar)."""
    item.queue = queue
    item.queue_priority = queue.priority
    item.queued_at = now
    item.min_agent_tier = queue.min_agent_tier
    item.required_skills = sorted(queue.required_skills)
    item.optional_skills = sorted(set(queue.optional_skills) - set(queue.required_skills))
    item.optional_relaxed = False
    item.rule_required_skills = item.rule_optional_skills = []
    service_levels.deadlines_apply(item, queue)
