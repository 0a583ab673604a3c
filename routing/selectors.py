"""Reads of routing state for the API: agents' own state and items, work items, queue stats,
and whether the queue new work would reach is open (business hours).

Querysets where the API pages and filters; plain dicts where the answer is a figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.db import connection
from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils import timezone

from routing import business_hours, schedules, service_levels
from routing.models import (
    CHANNELS,
    HELD_STATES,
    AgentPresenceChange,
    AgentProfile,
    AgentSlot,
    ItemState,
    Presence,
    Queue,
    WorkItem,
    WorkItemEvent,
    held_at,
)
from routing.services import config
from supportdesk.errors import DomainError

# --- the calling agent -----------------------------------------------------------------------


def agent_get(*, user: Any) -> AgentProfile:
    """The user's agent profile, or the domain error `not_an_agent` (400).

    Same code and message as the check the routing services make on writes, so reads and
    writes refuse a user without a profile alike.
    """
    profile = AgentProfile.objects.filter(user_id=getattr(user, "pk", None)).first()
    if profile is None:
        raise DomainError("You have no agent profile; ask a supervisor to set one up.",
                          code="not_an_agent")
    return profile


def agents_load(*, agent_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Items each agent holds (assigned, or offered and not past the offer's timeout) per
    channel, in one query; agents and channels holding nothing are left out."""
    loads: dict[int, dict[str, int]] = {}
    rows = (WorkItem.objects.filter(held_at(timezone.now()), agent_id__in=list(agent_ids))
            .values("agent_id", "channel").annotate(n=Count("id")).order_by())
    for row in rows:
        loads.setdefault(row["agent_id"], {})[row["channel"]] = row["n"]
    return loads


def agent_load(*, agent: AgentProfile) -> dict[str, int]:
    """Items the agent holds (offered or assigned) per channel, every channel present."""
    return {**dict.fromkeys(CHANNELS, 0), **agents_load(agent_ids=[agent.pk]).get(agent.pk, {})}


def agent_routing_state(*, agent: AgentProfile) -> dict[str, Any]:
    """What the agent's workspace shows of routing: presence, capacity and load per channel."""
    return {
        "presence": agent.presence,
        "presence_since": agent.presence_since,
        "last_heartbeat_at": agent.last_heartbeat_at,
        "capacity": {channel: agent.capacity_for(channel) for channel in CHANNELS},
        "load": agent_load(agent=agent),
    }


def agent_item_list(*, agent: AgentProfile) -> QuerySet[WorkItem]:
    """The agent's open work: items offered to them (offers past their timeout left out,
    the sweep may not have expired them yet) and items assigned to them."""
    return WorkItem.objects.filter(held_at(timezone.now()), agent_id=agent.pk).select_related("queue")


# --- work items for supervisors ------------------------------------------------------------------


def work_item_list() -> QuerySet[WorkItem]:
    """Every work item with its queue joined in, so a page costs one query."""
    return WorkItem.objects.select_related("queue")


def work_item_detail_list() -> QuerySet[WorkItem]:
    """As `work_item_list`, with each item's history in order, in one more query."""
    events = WorkItemEvent.objects.select_related("queue").order_by("at", "id")
    return work_item_list().prefetch_related(Prefetch("events", queryset=events))


# --- time in each presence ----------------------------------------------------------------------


def presence_seconds(*, agent_ids: Iterable[int], start: datetime, end: datetime,
                     now: datetime | None = None) -> dict[int, dict[str, float]]:
    """Seconds each agent spent in each presence from `start` to `end`, read from the presence
    log: {agent id: {presence: seconds}}, every agent asked for and every presence present.

    An agent is in a change's presence from its moment until their next change; the interval
    still open counts up to `now` (time after `now` is not known yet, so the window stops
    there when `end` is later). Time before an agent's first change is not counted. One query:
    each agent's last change at or before `start` (one index probe on (agent, at)) and their
    changes inside the window (an index range), summed per presence in PostgreSQL.
    `routing.engine.presence_durations` is the specification."""
    ids = sorted(set(agent_ids))
    stop = min(end, now or timezone.now())
    seconds = {agent_id: dict.fromkeys(Presence.values, 0.0) for agent_id in ids}
    if not ids or stop <= start:
        return seconds
    log = AgentPresenceChange._meta.db_table
    sql = f"""
        WITH changes AS (
            SELECT c.agent_id, c.presence, c.at, c.id
            FROM {log} c
            WHERE c.agent_id = ANY(%(agents)s) AND c.at > %(start)s AND c.at < %(stop)s
            UNION ALL
            SELECT a.id, first.presence, %(start)s, first.id
            FROM unnest(%(agents)s::bigint[]) AS a(id)
            CROSS JOIN LATERAL (
                SELECT presence, id FROM {log}
                WHERE agent_id = a.id AND at <= %(start)s
                ORDER BY at DESC, id DESC LIMIT 1
            ) first
        ), spans AS (
            SELECT agent_id, presence,
                   lead(at, 1, %(stop)s) OVER (PARTITION BY agent_id ORDER BY at, id) - at AS span
            FROM changes
        )
        SELECT agent_id, presence, extract(epoch FROM sum(span)) FROM spans GROUP BY agent_id, presence
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"agents": ids, "start": start, "stop": stop})
        for agent_id, presence, total in cursor.fetchall():
            seconds[agent_id][presence] = float(total)
    return seconds


# --- queue statistics ----------------------------------------------------------------------------


def day_start(now: datetime) -> datetime:
    """Midnight of `now`'s day in the desk's time zone: where "today" begins."""
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date(), time.min), local.tzinfo)


def _queue_load(now: datetime) -> dict[int, dict[str, Any]]:
    """Per queue: items waiting now, the longest wait, items offered and assigned.

    Two queries, so each reads through the partial index for its states.
    """
    figures: dict[int, dict[str, Any]] = {}
    waiting = (WorkItem.objects.filter(state=ItemState.WAITING).values("queue_id")
               .annotate(waiting=Count("id"), oldest=Min("enqueued_at")).order_by())
    for row in waiting:
        figures.setdefault(row["queue_id"], {}).update(
            waiting=row["waiting"],
            longest_wait_seconds=max(int((now - row["oldest"]).total_seconds()), 0),
        )
    held = (WorkItem.objects.filter(state__in=HELD_STATES).values("queue_id")
            .annotate(offered=Count("id", filter=Q(state=ItemState.OFFERED)),
                      assigned=Count("id", filter=Q(state=ItemState.ASSIGNED)))
            .order_by())
    for row in held:
        figures.setdefault(row["queue_id"], {}).update(offered=row["offered"], assigned=row["assigned"])
    return figures


# An item cancelled unanswered this soon after it was enqueued (the customer closed the chat
# at once, the caller hung up in the greeting) is left out of abandonment (issue 14's rule).
SHORT_ABANDON_SECONDS = 5


def _service_levels(start: datetime, now: datetime) -> dict[int, dict[str, Any]]:
    """Per active queue, over items enqueued since `start`: how many reached an agent within
    the queue's target wait (`met`), how many count towards the service level (`counted`:
    reached an agent, or waited past the target without reaching one, until now or until
    they were closed), how many breached; the mean wait to the answer of those answered
    (`answer_seconds`); how many were abandoned, and how many ended their wait
    (`ended`: answered, or closed unanswered), short abandons left out of both.

    An item reaches an agent at its first accept or direct assignment (`answered_at`, kept
    when the item is later requeued or transferred). A breach is read from the times as
    well as from its record, so the figure does not wait for the sweep to record it. An
    item is abandoned when it was cancelled (the customer left, the caller hung up) before
    anyone answered it, more than `SHORT_ABANDON_SECONDS` after it was enqueued.
    """
    item, queue = WorkItem._meta.db_table, Queue._meta.db_table
    # The breach is `routing.service_levels`' rule; met is its complement among the items
    # that reached an agent, counted those plus the breached.
    breached, met = service_levels.breached_sql(), service_levels.met_sql()
    unanswered = f"i.state = '{ItemState.CANCELLED}' AND i.answered_at IS NULL"
    short = f"i.completed_at <= i.enqueued_at + make_interval(secs => {SHORT_ABANDON_SECONDS})"
    closed = f"i.state IN ('{ItemState.COMPLETED}', '{ItemState.CANCELLED}')"
    sql = f"""
        SELECT i.queue_id,
               count(*) FILTER (WHERE {met}) AS met,
               count(*) FILTER (WHERE i.answered_at IS NOT NULL OR {breached}) AS counted,
               count(*) FILTER (WHERE {breached}) AS breached,
               avg(extract(epoch FROM i.answered_at - i.enqueued_at)) AS answer_seconds,
               count(*) FILTER (WHERE {unanswered} AND NOT {short}) AS abandoned,
               count(*) FILTER (WHERE i.answered_at IS NOT NULL OR ({closed}
                                      AND NOT ({unanswered} AND {short}))) AS ended
        FROM {item} i JOIN {queue} q ON q.id = i.queue_id
        WHERE q.is_active AND i.enqueued_at >= %(start)s
        GROUP BY i.queue_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": start, "now": now})
        return {queue_id: {"met": met, "counted": counted, "breached": breached,
                           "answer_seconds": None if answer_seconds is None else float(answer_seconds),
                           "abandoned": abandoned, "ended": ended}
                for queue_id, met, counted, breached, answer_seconds, abandoned, ended
                in cursor.fetchall()}


def _agents_serving(start: datetime) -> dict[int, dict[str, int]]:
    """Per active queue: online agents who can serve it, and of those, how many are at capacity.

    What a queue needs is read from its items: each (channel, language, contact kind) among
    the items enqueued in it today or waiting in it now. An online agent serves the queue
    when one of their slots matches such a combination and holds the queue's required skills
    and tier; they are at capacity when none of those matching slots is available (a slot
    of an online agent is available when the agent has room on its channel).
    """
    item, queue = WorkItem._meta.db_table, Queue._meta.db_table
    slot, agent = AgentSlot._meta.db_table, AgentProfile._meta.db_table
    sql = f"""
        WITH needs AS (
            SELECT i.queue_id, i.channel, i.language, i.contact_kind
            FROM {item} i JOIN {queue} q ON q.id = i.queue_id
            WHERE q.is_active AND i.enqueued_at >= %(start)s
            UNION
            SELECT queue_id, channel, language, contact_kind FROM {item} WHERE state = %(waiting)s
        ), serving AS (
            SELECT n.queue_id, s.agent_id, bool_or(s.available) AS has_room
            FROM needs n
            JOIN {queue} q ON q.id = n.queue_id AND q.is_active
            JOIN {slot} s ON s.channel = n.channel AND s.language = n.language
                         AND s.contact_kind = n.contact_kind
                         AND s.tier >= q.min_agent_tier AND s.skills @> q.required_skills
            JOIN {agent} a ON a.id = s.agent_id AND a.presence = %(online)s
            GROUP BY n.queue_id, s.agent_id
        )
        SELECT queue_id, count(*), count(*) FILTER (WHERE NOT has_room)
        FROM serving GROUP BY queue_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": start, "waiting": ItemState.WAITING, "online": Presence.ONLINE})
        return {queue_id: {"online": online, "at_capacity": at_capacity}
                for queue_id, online, at_capacity in cursor.fetchall()}


def queue_stats(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """The supervisor's board: one dict per active queue, highest priority first.

    Five queries whatever the number of queues. `service_level_today` is the share of items
    enqueued today that reached an agent within the queue's target wait, over those that
    reached one or waited past the target; None when there are none yet. `breached_today`
    counts the items enqueued today that breached their target. `answer_seconds_today` is
    the average speed of answer: the mean wait from enqueued to first answered of the items
    enqueued today that were answered (None when none was). `abandoned_today` counts the
    items enqueued today abandoned (cancelled unanswered, short abandons left out: see
    `_service_levels`), `abandonment_today` is their share of the items enqueued today that
    ended their wait (answered or closed unanswered; None when none has). The figures are by
    the queue an item is in now (a transferred or overflowed item counts in its new one).
    """
    now = now or timezone.now()
    start = day_start(now)
    queues = list(Queue.objects.filter(is_active=True).order_by("-priority", "key"))
    load = _queue_load(now)
    levels = _service_levels(start, now)
    serving = _agents_serving(start)
    stats = []
    for queue in queues:
        queue_load = load.get(queue.pk, {})
        level = levels.get(queue.pk, {"met": 0, "counted": 0, "breached": 0, "answer_seconds": None,
                                      "abandoned": 0, "ended": 0})
        agents = serving.get(queue.pk, {"online": 0, "at_capacity": 0})
        stats.append({
            "id": queue.pk,
            "key": queue.key,
            "name": queue.name,
            "priority": queue.priority,
            "target_wait_seconds": queue.target_wait_seconds,
            "waiting": queue_load.get("waiting", 0),
            "longest_wait_seconds": queue_load.get("longest_wait_seconds", 0),
            "offered": queue_load.get("offered", 0),
            "assigned": queue_load.get("assigned", 0),
            "agents_online": agents["online"],
            "agents_at_capacity": agents["at_capacity"],
            "service_level_today": share_of(level["met"], level["counted"]),
            "breached_today": level["breached"],
            "answer_seconds_today": level["answer_seconds"],
            "abandoned_today": level["abandoned"],
            "abandonment_today": share_of(level["abandoned"], level["ended"]),
        })
    return stats


def share_of(part: int, whole: int) -> float | None:
    """part / whole to four places (a share the boards show as a percent); None of nothing."""
    return round(part / whole, 4) if whole else None


# --- business hours ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """Whether the queue new work would reach is open, and if not, when it opens again."""

    queue_key: str
    is_open: bool
    back_at: datetime | None = None  # closed: the next opening (None: not within a year)
    time_zone: str = ""  # the queue's business hours' time zone; "" when it keeps none


def queue_opening(*, channel: str, attributes: Mapping[str, Any] | None = None,
                  now: datetime | None = None) -> Opening:
    """The queue the rules would route work with these attributes to (read from the cached
    configuration, writing nothing), and whether its business hours have it open at `now`.
    A queue without hours is always open."""
    values = config.attributes_normalise(channel=channel, attributes=attributes)
    queue = config.route_find(attributes=values, write=False, fresh=False).queue
    schedule = schedules.schedule_for_hours(queue.business_hours_id)
    if schedule is None:
        return Opening(queue_key=queue.key, is_open=True)
    now = now or timezone.now()
    if business_hours.is_open(schedule, now):
        return Opening(queue_key=queue.key, is_open=True, time_zone=schedule.time_zone)
    return Opening(queue_key=queue.key, is_open=False, back_at=business_hours.next_open(schedule, now),
                   time_zone=schedule.time_zone)
