"""Business hours as supervisors edit them: a named weekly schedule in a time zone, its open
intervals per weekday and its holidays. Queues point at one (`Queue.business_hours`); a queue
without is always open and counts calendar time.

Imported by `routing.models`, which holds the rest of routing's tables. The engine reads
none of this: `routing.schedules` turns the rows into a `routing.business_hours.Schedule`.
"""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

MIDNIGHT = time(0, 0)


def clock_text(value: time, *, closing: bool = False) -> str:
    """08:00 (08:00:30 with seconds); a close at midnight is 24:00, the end of the day."""
    if closing and value == MIDNIGHT:
        return "24:00"
    return f"{value:%H:%M:%S}" if value.second else f"{value:%H:%M}"


def interval_text(opens_at: time, closes_at: time) -> str:
    """08:00-20:00, 20:00-24:00."""
    return f"{clock_text(opens_at)}-{clock_text(closes_at, closing=True)}"


def time_zone_validate(value: str) -> None:
    """An IANA time zone name zoneinfo knows (Europe/Madrid, America/Mexico_City, UTC)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("Unknown time zone %(zone)r: use an IANA name such as Europe/Madrid or America/Bogota."),
            code="time_zone", params={"zone": value}) from None


class Weekday(models.IntegerChoices):
    """Monday first, numbered as Python's date.weekday()."""

    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessHours(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True,
                            help_text=_("e.g. Office hours Spain, Weekends 24h."))
    time_zone = models.CharField(
        _("time zone"), max_length=64, validators=[time_zone_validate],
        help_text=_("The IANA time zone the hours are in, e.g. Europe/Madrid; daylight saving time follows it."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return self.name


class OpeningInterval(models.Model):
    """Open from `opens_at` to `closes_at` on a weekday, in the hours' time zone. A close of
    00:00 is midnight at the end of the day (24:00); an overnight opening is two intervals."""

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="intervals")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(_("closes at"),
                                 help_text=_("24:00 (or 00:00) for midnight at the end of the day."))

    class Meta:
        ordering = ("weekday", "opens_at")
        verbose_name = _("open interval")
        verbose_name_plural = _("open intervals")
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")) | Q(closes_at=MIDNIGHT),
                name="opening_interval_closes_after_opening",
                violation_error_message=_("An interval closes after it opens (24:00 for midnight)."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {interval_text(self.opens_at, self.closes_at)}"

    @property
    def seconds(self) -> tuple[int, int, int]:
        """(weekday, opens, closes), times in seconds from midnight, as routing.business_hours reads them."""
        return interval_seconds(self.weekday, self.opens_at, self.closes_at)


def interval_seconds(weekday: int, opens_at: time, closes_at: time) -> tuple[int, int, int]:
    """(weekday, opens, closes) in seconds from local midnight; a close at 00:00 is 86400 (24:00)."""
    def of(value: time) -> int:
        return value.hour * 3600 + value.minute * 60 + value.second
    return weekday, of(opens_at), 24 * 3600 if closes_at == MIDNIGHT else of(closes_at)


class Holiday(models.Model):
    """A date on which the hours are closed all day (00:00 to 24:00 in their time zone)."""

    hours = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True, help_text=_("e.g. New Year's Day."))

    class Meta:
        ordering = ("date",)
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints = [
            models.UniqueConstraint(fields=["hours", "date"], name="holiday_once_per_date",
                                    violation_error_message=_("This date is a holiday already.")),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()
