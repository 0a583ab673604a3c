"""When a work item's service-level steps fall due, and whether it breached: one rule,
in Python and in SQL, built from the same definitions.

Each step falls due a number of seconds after a time of the item's, the seconds being a
product of its queue's settings:

- escalated: `target_wait_seconds * escalate_at_percent / 100` after `enqueued_at`;
- relaxed (optional skills): `relax_optional_after_seconds` after `enqueued_at`;
- overflowed: `overflow_after_seconds` after `queued_at` (the wait in its current queue);
- breached: `target_wait_seconds` after `enqueued_at`: the deadline of the first answer.

`due_at` answers for one item in Python, `due_sql` (raw SQL over aliases) and
`due_expression` (a Django expression over the item's queue) for many in PostgreSQL.

The breach rule: an item breached when it was recorded so, or when its deadline came
before (or as) it first reached an agent (`answered_at`), or, never answered, as it was
closed or by now. Reaching an agent exactly at the deadline is a breach, as the services
record it (a step due at `now` is applied). `breached` and `breached_sql` say it; the
sweep, the matcher, the live views and the queue statistics all read it from here.

Business hours. In a queue that keeps business hours (`Queue.business_hours`) the clocks
stop while the team is out: each wait above is counted in open time
(`business_hours.add_business_seconds`), so a chat arriving at 21:00 in a queue open 08:00 to
20:00 breaches at 08:00 plus its target, not at 21:00 plus its target. Open time cannot be
added in SQL cheaply, so the deadlines are worked out in Python when the item enters the
queue (`deadlines`, at enqueue, overflow and transfer) and stored on it
(`escalation_due_at`, `relax_due_at`, `overflow_due_at`, `breach_due_at`); every rule here
reads a stored deadline first (`coalesce` in SQL) and falls back to the calendar sum from the
queue's settings. Queues without hours, the common case, store nothing and run exactly the
arithmetic they always did, behind a coalesce over a NULL column: no extra join, no lookup,
no call into Python, and their deadlines still follow a change of the queue's settings at
once (nothing stored to go stale). Counting open time in SQL instead (a PL/pgSQL function
over the schedule's rows) would make every sweep, match and statistic pay for it per row,
with a second copy of `routing.business_hours` to keep in step. A supervisor's change to a
queue's settings or to business hours works the open items' deadlines out again after
commit (`routing.services.sla.deadlines_refresh`); closed items keep theirs, as the history
of what their target was. A schedule that gives no open time within a year stores `NEVER`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import (
    DateTimeField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThanOrEqual

from routing import business_hours, schedules
from routing.models import Queue, WorkItem, WorkItemEventKind

# The deadline of a step that open time never reaches (hours with no opening within a year).
NEVER = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Threshold:
    start: str  # the item's time the wait runs from
    queue_fields: tuple[str, ...]  # their product is the wait, in seconds
    stored: str  # the item's field holding the deadline in business time, when its queue keeps hours
    divisor: int = 1  # the product is divided by this (a percent)


THRESHOLDS: dict[str, Threshold] = {
    WorkItemEventKind.ESCALATED: Threshold("enqueued_at", ("target_wait_seconds", "escalate_at_percent"),
                                           "escalation_due_at", 100),
    WorkItemEventKind.RELAXED: Threshold("enqueued_at", ("relax_optional_after_seconds",), "relax_due_at"),
    WorkItemEventKind.OVERFLOWED: Threshold("queued_at", ("overflow_after_seconds",), "overflow_due_at"),
    WorkItemEventKind.BREACHED: Threshold("enqueued_at", ("target_wait_seconds",), "breach_due_at"),
}
DEADLINE_FIELDS = tuple(threshold.stored for threshold in THRESHOLDS.values())


def wait_seconds(kind: str, queue: Queue) -> float | None:
    """The queue's wait before the step, or None when the queue does not set it."""
    threshold = THRESHOLDS[kind]
    values = [getattr(queue, name) for name in threshold.queue_fields]
    if any(value is None for value in values):
        return None
    product = math.prod(values)
    return product / threshold.divisor if threshold.divisor != 1 else product


def due_at(kind: str, item: WorkItem, queue: Queue | None = None) -> datetime | None:
    """When the step falls due for the item (in `queue`, by default its own), whether or not
    it still applies to it; None when the queue does not set it. In its own queue a deadline
    stored in business time comes first."""
    threshold = THRESHOLDS[kind]
    stored = getattr(item, threshold.stored)
    if stored is not None and (queue is None or queue.pk == item.queue_id):
        return stored
    seconds = wait_seconds(kind, queue or item.queue)
    if seconds is None:
        return None
    return getattr(item, threshold.start) + timedelta(seconds=seconds)


def deadlines(item: WorkItem, queue: Queue) -> dict[str, datetime | None]:
    """The deadlines to store on the item as it is in `queue` (its start times set): in the
    queue's business time, or all None when it keeps no hours (calendar time, read from the
    queue's settings). Reads the cached schedule (routing.schedules)."""
    schedule = schedules.schedule_for_hours(queue.business_hours_id)
    values: dict[str, datetime | None] = dict.fromkeys(DEADLINE_FIELDS)
    if schedule is None:
        return values
    for kind, threshold in THRESHOLDS.items():
        seconds = wait_seconds(kind, queue)
        if seconds is not None:
            start = getattr(item, threshold.start)
            values[threshold.stored] = business_hours.add_business_seconds(schedule, start, seconds) or NEVER
    return values


def deadlines_apply(item: WorkItem, queue: Queue) -> None:
    """Set the item's stored deadlines for `queue` (the caller saves DEADLINE_FIELDS)."""
    for name, value in deadlines(item, queue).items():
        setattr(item, name, value)


def due_sql(kind: str, *, item: str = "i", queue: str = "q") -> str:
    """The same, as SQL over an item aliased `item` joined to its queue aliased `queue`
    (NULL when the queue does not set it)."""
    threshold = THRESHOLDS[kind]
    start = WorkItem._meta.get_field(threshold.start).column
    stored = WorkItem._meta.get_field(threshold.stored).column
    seconds = " * ".join(f"{queue}.{Queue._meta.get_field(name).column}" for name in threshold.queue_fields)
    if threshold.divisor != 1:
        seconds = f"{seconds} / {threshold.divisor}.0"
    return f"coalesce({item}.{stored}, {item}.{start} + make_interval(secs => {seconds}))"


def due_expression(kind: str) -> Expression:
    """The same, as an expression for a WorkItem queryset (through its queue)."""
    threshold = THRESHOLDS[kind]
    seconds: Expression = math.prod((F(f"queue__{name}") for name in threshold.queue_fields[1:]),
                                    start=F(f"queue__{threshold.queue_fields[0]}"))
    if threshold.divisor != 1:
        seconds = seconds / Value(float(threshold.divisor), output_field=FloatField())
    interval = Func(seconds, function="make_interval", template="make_interval(secs => %(expressions)s)",
                    output_field=DurationField())
    calendar = ExpressionWrapper(F(threshold.start) + interval, output_field=DateTimeField())
    return Coalesce(F(threshold.stored), calendar, output_field=DateTimeField())


def due_by(kind: str, now: datetime) -> Q:
    """Items whose step fell due at or before `now`."""
    return Q(LessThanOrEqual(due_expression(kind), now))


# --- the breach -------------------------------------------------------------------------------


def breached(item: WorkItem, *, now: datetime, queue: Queue | None = None) -> bool:
    """Whether the item breached its queue's target by `now` (see the module's docstring)."""
    if item.sla_breached_at is not None:
        return True
    deadline = due_at(WorkItemEventKind.BREACHED, item, queue)
    end = item.answered_at or item.completed_at or now
    return deadline <= end


def breached_sql(*, item: str = "i", queue: str = "q", now: str = "%(now)s") -> str:
    """The same, as an SQL condition (`now` is the placeholder of the caller's clock)."""
    deadline = due_sql(WorkItemEventKind.BREACHED, item=item, queue=queue)
    return (f"({item}.sla_breached_at IS NOT NULL OR "
            f"{deadline} <= coalesce({item}.answered_at, {item}.completed_at, {now}))")


def met_sql(*, item: str = "i", queue: str = "q") -> str:
    """Reached an agent before the deadline: the complement of a breach among answered items."""
    deadline = due_sql(WorkItemEventKind.BREACHED, item=item, queue=queue)
    return f"({item}.answered_at < {deadline} AND {item}.sla_breached_at IS NULL)"
