"""Queues' business hours as the pure module reads them (`routing.business_hours.Schedule`),
loaded cheaply and cached per process.

Other layers call `schedule_for_queue(queue_id)` (None: the queue keeps no hours, so it is
always open and counts calendar time) and pass the answer to `business_hours`' functions,
as often as they like: every schedule and which queue has which is read in one go (three
queries), kept for ROUTING_CONFIG_SECONDS, and a schedule whose rows did not change keeps
its object across reloads, so its cache of days (what makes a call cost microseconds) is
kept too. Saving a queue or any part of business hours drops this process's copy at once
(routing.apps); other processes see the change within the interval.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction

from routing.business_hours import Schedule, schedule_build
from routing.models import BusinessHours, Holiday, OpeningInterval, Queue


@dataclass(frozen=True)
class _Loaded:
    schedules: dict[int, Schedule]  # by BusinessHours id
    queue_hours: dict[int, int]  # queue id -> its BusinessHours id, for queues that keep hours
    loaded_at: float


_loaded: _Loaded | None = None


def schedule_of(hours: BusinessHours, *, intervals: Any = None, holidays: Any = None) -> Schedule:
    """The schedule of one row of business hours (its intervals and holidays read unless given)."""
    rows = hours.intervals.all() if intervals is None else intervals
    dates = hours.holidays.values_list("date", flat=True) if holidays is None else holidays
    return schedule_build(time_zone=hours.time_zone,
                          intervals=[row.seconds for row in rows],
                          holidays=dates)


def _load(previous: _Loaded | None) -> _Loaded:
    intervals: dict[int, list[OpeningInterval]] = defaultdict(list)
    for row in OpeningInterval.objects.all():
        intervals[row.hours_id].append(row)
    holidays: dict[int, list[date]] = defaultdict(list)
    for hours_id, day in Holiday.objects.values_list("hours_id", "date"):
        holidays[hours_id].append(day)
    kept = {schedule.key: schedule for schedule in (previous.schedules.values() if previous else ())}
    schedules = {}
    for hours in BusinessHours.objects.all():
        schedule = schedule_of(hours, intervals=intervals[hours.pk], holidays=holidays[hours.pk])
        schedules[hours.pk] = kept.get(schedule.key, schedule)
    queue_hours = dict(Queue.objects.filter(business_hours__isnull=False).values_list("id", "business_hours_id"))
    return _Loaded(schedules=schedules, queue_hours=queue_hours, loaded_at=time.monotonic())


def _current() -> _Loaded:
    global _loaded
    loaded = _loaded
    if loaded is None or time.monotonic() - loaded.loaded_at >= settings.ROUTING_CONFIG_SECONDS:
        loaded = _loaded = _load(loaded)
    return loaded


def schedule_for_hours(hours_id: int | None) -> Schedule | None:
    """The schedule of a BusinessHours id (None for None, or for hours that no longer exist)."""
    return None if hours_id is None else _current().schedules.get(hours_id)


def schedule_for_queue(queue_id: int) -> Schedule | None:
    """The queue's schedule, or None when it keeps no business hours (always open)."""
    loaded = _current()
    hours_id = loaded.queue_hours.get(queue_id)
    return None if hours_id is None else loaded.schedules.get(hours_id)


def schedules_forget() -> None:
    """Drop this process's copy: the next call reads the schedules again (keeping the objects
    of those that did not change)."""
    global _loaded
    loaded = _loaded
    if loaded is not None:
        _loaded = _Loaded(schedules=loaded.schedules, queue_hours=loaded.queue_hours, loaded_at=float("-inf"))


def schedules_clear(**_: Any) -> None:
    """For the save and delete signals: forget now and, inside a transaction, again after
    commit (another thread may read the old rows meanwhile)."""
    schedules_forget()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(schedules_forget)
