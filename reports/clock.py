"""How long something took, in the time the reports count: a queue's business time where it
has business hours, calendar time where it has none (README, "Metrics")."""

from __future__ import annotations

from datetime import datetime

from routing.business_hours import business_seconds
from routing.schedules import schedule_for_queue


def elapsed(queue_id: int, start: datetime, end: datetime) -> float:
    """Seconds from `start` to `end` (never negative) for work in queue `queue_id`: only the
    open seconds of its business hours where it has them."""
    if end <= start:
        return 0.0
    schedule = schedule_for_queue(queue_id) if queue_id else None
    if schedule is None:
        return (end - start).total_seconds()
    return max(business_seconds(schedule, start, end), 0.0)
