"""Service levels: escalation, relaxed optional skills, overflow and breach, applied on
access (`sla_catch_up`) and by the sweep."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from routing.models import (
    ItemState,
    Queue,
    WorkItem,
)
from routing.services import events, items, matching

log = logging.getLogger(__name__)




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


def seconds_between(since: datetime, now: datetime) -> float:
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
    order (`sla_catch_up`). Each item is re-checked under its lock, so running sweeps twice
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
                    if item.state == ItemState.WAITING and set(applied) - {"breached"}:
                        matching.item_match(item, now=now)
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
        events.event_record(item, "escalated", at=at, priority=item.priority, relaxed_optional_skills=relaxed)
    elif kind == "relaxed":
        item.optional_relaxed = True
        item.save(update_fields=["optional_relaxed"])
        events.event_record(item, "relaxed", at=at, skills=item.optional_skills)
    elif kind == "overflowed":
        target = queue.overflow_queue
        events.event_record(item, "overflowed", at=at, to_queue=target.key)
        items.queue_move(item, target, now=now)
        item.declined_by = []
        item.save(update_fields=[*items.QUEUE_FIELDS, "declined_by"])
    else:
        item.sla_breached_at = at
        item.save(update_fields=["sla_breached_at"])
        events.event_record(item, "breached", at=at, waited_seconds=int((at - item.enqueued_at).total_seconds()))
