"""Service levels: escalation, relaxed optional skills, overflow and breach, applied on
access (`sla_catch_up`) and by the sweep."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from routing import schedules, service_levels
from routing.models import (
    OPEN_STATES,
    ItemState,
    Queue,
    WorkItem,
)
from routing.models import WorkItemEventKind as EventKind
from routing.services import events, items, matching

log = logging.getLogger(__name__)

REFRESH_BATCH = 500


def deadlines_refresh(*, queue_ids: Iterable[int]) -> int:
    """After a supervisor changed queues' settings or their business hours: the open items
    in them get their stored deadlines worked out again, in the queue's business time, or
    cleared where it keeps none (calendar time from its settings). Each batch is locked, so
    an item moving on meanwhile takes its new queue's deadlines. Closed items keep theirs.
    Returns how many items changed."""
    schedules.schedules_forget()  # read the hours as committed
    no_deadline = {f"{name}__isnull": True for name in service_levels.DEADLINE_FIELDS}
    changed = 0
    for queue in Queue.objects.filter(pk__in=list(queue_ids)):
        open_items = WorkItem.objects.filter(queue_id=queue.pk, state__in=OPEN_STATES)
        if queue.business_hours_id is None:
            changed += open_items.exclude(**no_deadline).update(**dict.fromkeys(service_levels.DEADLINE_FIELDS))
            continue
        ids = list(open_items.order_by("id").values_list("id", flat=True))
        for offset in range(0, len(ids), REFRESH_BATCH):
            with transaction.atomic():
                batch = list(open_items.select_for_update(of=("self",)).filter(
                    pk__in=ids[offset:offset + REFRESH_BATCH]).order_by("id"))
                stale = []
                for item in batch:
                    values = service_levels.deadlines(item, queue)
                    if any(getattr(item, name) != value for name, value in values.items()):
                        for name, value in values.items():
                            setattr(item, name, value)
                        stale.append(item)
                WorkItem.objects.bulk_update(stale, service_levels.DEADLINE_FIELDS)
                changed += len(stale)
    return changed


def _waiting_past(kind: str, *, limit: int, now: datetime) -> list[int]:
    """Open items the step applies to and fell due for by `now`, oldest first. `now` is the
    caller's clock, the one the steps are then checked against under the lock
    (PostgreSQL's now() is the transaction's start)."""
    item, queue = WorkItem._meta.db_table, Queue._meta.db_table
    states, applies = STEP_STATES[kind], STEP_APPLIES_SQL[kind]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.id FROM {item} i JOIN {queue} q ON q.id = i.queue_id "
            f"WHERE i.state = ANY(%(states)s) AND {applies} "
            f"AND {service_levels.due_sql(kind)} <= %(now)s "
            f"ORDER BY i.enqueued_at LIMIT %(limit)s", {"states": list(states), "limit": limit, "now": now},
        )
        return [row[0] for row in cursor.fetchall()]


PRIORITY_MAX = 32767  # the column is a smallint


def seconds_between(since: datetime, now: datetime) -> float:
    return (now - since).total_seconds()


# The order they are applied in.
SLA_STEPS = (EventKind.ESCALATED, EventKind.RELAXED, EventKind.OVERFLOWED, EventKind.BREACHED)

# The items each step is for, in Python (under the item's lock) and in SQL (listing them
# for the sweep), side by side; when it falls due is `routing.service_levels`.
STEP_STATES = {
    EventKind.ESCALATED: (ItemState.WAITING,),
    EventKind.RELAXED: (ItemState.WAITING,),
    EventKind.OVERFLOWED: (ItemState.WAITING,),
    # Offers nobody answered in time breach too.
    EventKind.BREACHED: (ItemState.WAITING, ItemState.OFFERED),
}
STEP_APPLIES_SQL = {
    EventKind.ESCALATED: "i.escalated_at IS NULL",
    EventKind.RELAXED: "NOT i.optional_relaxed",
    EventKind.OVERFLOWED: "q.overflow_queue_id IS NOT NULL AND q.overflow_queue_id <> q.id",
    EventKind.BREACHED: "i.sla_breached_at IS NULL AND i.answered_at IS NULL",
}


def _step_applies(item: WorkItem, kind: str) -> bool:
    queue = item.queue
    if kind == EventKind.ESCALATED:
        return item.escalated_at is None
    if kind == EventKind.RELAXED:
        return not item.optional_relaxed
    if kind == EventKind.OVERFLOWED:
        return queue.overflow_queue_id is not None and queue.overflow_queue_id != queue.pk
    # Only a first answer can breach: work answered in time and moved on later did not.
    return item.sla_breached_at is None and item.answered_at is None


def _sla_due_at(item: WorkItem, kind: str) -> datetime | None:
    """When the step falls due for the item as it is now (under its lock: another sweep, a
    transfer or an overflow may have changed it since it was listed), or None when it does
    not apply to it (or its queue does not set it)."""
    return service_levels.due_at(kind, item) if _step_applies(item, kind) else None


def _escalation_due(item: WorkItem, kind: str, *, now: datetime) -> bool:
    due = _sla_due_at(item, kind)
    return due is not None and due <= now


def sla_catch_up(item: WorkItem, *, now: datetime, kinds: Iterable[str] = SLA_STEPS) -> list[str]:
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
        if kind not in kinds and not (kind == EventKind.ESCALATED and EventKind.BREACHED in kinds):
            continue
        if not waiting and kind in (EventKind.RELAXED, EventKind.OVERFLOWED):
            continue
        due = _sla_due_at(item, kind)
        if due is None or due > now:
            continue
        if kind == EventKind.ESCALATED and not waiting and not _escalation_due(item, EventKind.BREACHED, now=now):
            continue
        if kind == EventKind.BREACHED and item.escalated_at is not None:
            due = max(due, item.escalated_at)  # an overflow may have shortened the target
        _escalation_apply(item, kind, at=due, now=now)
        applied.append(kind)
    return applied


def sla_sweep(*, limit: int = 500) -> dict[str, int]:
    """Escalate waiting items at the queue's share of its target (raise priority, relax
    optional skills), relax optional skills after the queue's relax wait, move items past
    the overflow wait to the overflow queue, and record breaches (of waiting items and of
    offers nobody answered in time): for each item listed, every step due is applied, in
    order (`sla_catch_up`). Each item is re-checked under its lock, so running sweeps twice
    or at once changes nothing more; an item whose step fails is logged and left for the
    next sweep, without stopping the others."""
    counts = dict.fromkeys(SLA_STEPS, 0)
    for kind in SLA_STEPS:
        states = STEP_STATES[kind]
        for item_id in _waiting_past(kind, limit=limit, now=timezone.now()):
            try:
                with transaction.atomic(), events.unit_of_work():
                    item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                            .select_related("queue", "queue__overflow_queue")
                            .filter(pk=item_id, state__in=states).first())
                    if item is None:
                        continue
                    now = timezone.now()
                    applied = sla_catch_up(item, now=now)
                    for done in applied:
                        counts[done] += 1
                    if item.state == ItemState.WAITING and set(applied) - {EventKind.BREACHED}:
                        matching.item_match(item, now=now)
            except DatabaseError:
                log.exception("Routing sweep: %s of item %s failed; it is tried again next sweep", kind, item_id)
    return counts


def _escalation_apply(item: WorkItem, kind: str, *, at: datetime, now: datetime) -> None:
    """Apply one step to a locked item, recorded at `at` (when it fell due); an item moving
    to another queue enters it `now`."""
    queue = item.queue
    if kind == EventKind.ESCALATED:
        item.escalated_at = at
        item.priority = min(item.priority + queue.escalation_priority_boost, PRIORITY_MAX)
        relaxed = bool(item.optional_skills) and not item.optional_relaxed
        item.optional_relaxed = True
        # Those who declined it may take it now rather than let it breach.
        item.declined_by, item.declined_at = [], None
        item.save(update_fields=["escalated_at", "priority", "optional_relaxed", "declined_by", "declined_at"])
        events.event_record(item, EventKind.ESCALATED, at=at, priority=item.priority,
                            relaxed_optional_skills=relaxed)
    elif kind == EventKind.RELAXED:
        item.optional_relaxed = True
        item.save(update_fields=["optional_relaxed"])
        events.event_record(item, EventKind.RELAXED, at=at, skills=item.optional_skills)
    elif kind == EventKind.OVERFLOWED:
        target = queue.overflow_queue
        events.event_record(item, EventKind.OVERFLOWED, at=at, to_queue=target.key)
        items.queue_move(item, target, now=now)
        item.declined_by, item.declined_at = [], None
        item.save(update_fields=[*items.QUEUE_FIELDS, "declined_by", "declined_at"])
    else:
        item.sla_breached_at = at
        item.save(update_fields=["sla_breached_at"])
        events.event_record(item, EventKind.BREACHED, at=at,
                            waited_seconds=int((at - item.enqueued_at).total_seconds()))
