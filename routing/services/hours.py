"""Supervisors' saves of business hours: checked, written with their intervals and holidays,
audited; after commit the open items of the queues that keep them have their service-level
deadlines worked out in the new hours (`sla.deadlines_refresh`), and every process reads the
schedules afresh (routing.schedules, through the save signals)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from routing.audit import audit_record, routing_snapshot
from routing.business_hours import overlapping
from routing.hours_models import clock_text, interval_seconds, interval_text
from routing.models import BusinessHours, Holiday, OpeningInterval, Queue, Weekday
from routing.services import sla
from routing.services.configure import _model_check, _raise_if

_READ = object()  # business_hours_save reads the audit's "before" itself


@dataclass(frozen=True)
class IntervalRow:
    """Open from `opens_at` to `closes_at` on a weekday (Monday 0); a close at 00:00 is
    midnight at the end of the day (24:00)."""

    weekday: int
    opens_at: time
    closes_at: time

    @property
    def seconds(self) -> tuple[int, int, int]:
        """(weekday, opens, closes) in seconds from local midnight, as routing.business_hours reads it."""
        return interval_seconds(self.weekday, self.opens_at, self.closes_at)


@dataclass(frozen=True)
class HolidayRow:
    date: date
    name: str = ""


def interval_row_errors(row: IntervalRow) -> list[str]:
    """What is wrong with one interval on its own."""
    if row.weekday not in Weekday.values:
        return [_("Pick a weekday.")]
    _weekday, opens, closes = row.seconds
    if closes <= opens:
        return [_("It closes at %(closes)s, not after it opens at %(opens)s. Use 24:00 for midnight at the end of "
                  "the day; an overnight opening is two intervals (22:00-24:00, then 00:00-06:00 the next day).")
                % {"closes": clock_text(row.closes_at, closing=True), "opens": clock_text(row.opens_at)}]
    return []


def intervals_errors(rows: Sequence[IntervalRow]) -> dict[int | None, list[str]]:
    """What is wrong with a schedule's intervals: by row index (each row's own mistakes, and
    those it overlaps on its weekday), or under None for the whole (no interval at all)."""
    errors: dict[int | None, list[str]] = {}
    for index, row in enumerate(rows):
        own = interval_row_errors(row)
        if own:
            errors[index] = own
    if errors:
        return errors
    if not rows:
        errors[None] = [_("Add at least one open interval: hours that never open would stop every "
                          "service-level clock for good.")]
    for first, second in overlapping(row.seconds for row in rows):
        for index, other in ((first, second), (second, first)):
            errors.setdefault(index, []).append(
                _("It overlaps %(other)s on %(weekday)s: make the intervals of a day follow one another.")
                % {"other": interval_text(rows[other].opens_at, rows[other].closes_at),
                   "weekday": Weekday(rows[index].weekday).label})
    return errors


def business_hours_errors(*, hours: BusinessHours, intervals: Sequence[IntervalRow] | None = None,
                          ) -> dict[str | None, list[str]]:
    """What is wrong with the hours as they would be saved: their intervals (given, or the
    rows already written) under "intervals"; the name and time zone are the model's checks."""
    if intervals is None:
        intervals = _rows_written(hours)
    found = intervals_errors(intervals)
    messages = [message for index in sorted(found, key=lambda key: -1 if key is None else key)
                for message in found[index]]
    return {"intervals": messages} if messages else {}


def _rows_written(hours: BusinessHours) -> list[IntervalRow]:
    if hours.pk is None:
        return []
    return [IntervalRow(weekday=row.weekday, opens_at=row.opens_at, closes_at=row.closes_at)
            for row in hours.intervals.order_by("weekday", "opens_at", "id")]


def business_hours_save(*, hours: BusinessHours, actor: Any, intervals: Iterable[IntervalRow] | None = None,
                        holidays: Iterable[HolidayRow] | None = None,
                        before: Mapping[str, Any] | None | object = _READ) -> BusinessHours:
    """Create or change business hours: checked (ConfigInvalid), written, audited. `intervals`
    and `holidays` replace the rows written, when given (the admin's inlines write their own
    and call this after). `before` is the audit's "before" when the caller read it (the admin,
    before its inlines changed the rows). After commit the open items of the queues that
    keep these hours take deadlines in them."""
    hours.name = (hours.name or "").strip()
    hours.time_zone = (hours.time_zone or "").strip()
    intervals = list(intervals) if intervals is not None else None
    _model_check(hours)
    _raise_if(business_hours_errors(hours=hours, intervals=intervals))
    with transaction.atomic():
        previous = BusinessHours.objects.select_for_update().filter(pk=hours.pk).first() if hours.pk else None
        if before is _READ:
            before = routing_snapshot(previous) if previous is not None else None
        hours.save()
        if intervals is not None:
            hours.intervals.all().delete()
            OpeningInterval.objects.bulk_create([
                OpeningInterval(hours=hours, weekday=row.weekday, opens_at=row.opens_at, closes_at=row.closes_at)
                for row in intervals])
        if holidays is not None:
            hours.holidays.all().delete()
            Holiday.objects.bulk_create([Holiday(hours=hours, date=row.date, name=row.name.strip())
                                         for row in {row.date: row for row in holidays}.values()])
        audit_record(actor=actor, obj=hours, instance_before=before, instance_after=routing_snapshot(hours))
        hours_id = hours.pk
        transaction.on_commit(lambda: business_hours_changed(hours_id=hours_id))
    return hours


def business_hours_changed(*, hours_id: int) -> int:
    """After business hours changed: the open items of the queues keeping them take
    deadlines in the new hours. Returns how many items changed."""
    return sla.deadlines_refresh(
        queue_ids=Queue.objects.filter(business_hours_id=hours_id).values_list("id", flat=True))
