"""manage.py rollups_rebuild --start YYYY-MM-DD --end YYYY-MM-DD: the reports' counters of
those days worked out again from the raw records (reports.rollups.rollups_rebuild); with
--days-only, only the counters per day, from the counters per hour (after TIME_ZONE changed)."""

from __future__ import annotations

import time
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.counters import days_recount
from reports.rollups import RebuildProgress, rollups_lock, rollups_rebuild


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = ("Rebuild the reports' counters per hour for a range of days (the desk's time zone) from the raw "
            "conversations, work items and events. The worker's updates of the counters wait meanwhile "
            "(nothing is lost: they queue in the outbox).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--start", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--end", required=True, help="Last day, inclusive, YYYY-MM-DD.")
        parser.add_argument("--chunk", type=int, default=1000, help="Conversations a transaction (default 1000).")
        parser.add_argument("--days-only", action="store_true",
                            help="Only sum the counters per day from the counters per hour (quick; after the "
                                 "desk's TIME_ZONE changed, as days are days in that time zone).")

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _day(options["start"]), _day(options["end"])
        if end < start:
            raise CommandError("--end comes before --start.")
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1.")
        zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        bounds = (datetime.combine(start, datetime.min.time(), zone),
                  datetime.combine(end + timedelta(days=1), datetime.min.time(), zone))
        began = time.monotonic()
        if options["days_only"]:
            with rollups_lock():
                days_recount(*bounds)
            self.stdout.write(self.style.SUCCESS(
                f"Summed the counters per day of {start} to {end} ({settings.TIME_ZONE}) from the counters "
                f"per hour in {time.monotonic() - began:.1f} s."))
            return
        self._last = 0.0
        self._began = began
        self.stdout.write(f"Rebuilding the counters of {start} to {end} ({settings.TIME_ZONE})...")
        total = rollups_rebuild(*bounds, chunk=options["chunk"], on_progress=self._progress)
        self.stdout.write(self.style.SUCCESS(
            f"Rebuilt from {total:,} conversations in {time.monotonic() - began:.1f} s."))

    def _progress(self, progress: RebuildProgress) -> None:
        now = time.monotonic()
        if now - self._last < 1 and progress.done < progress.total:
            return  # a line a second at most
        self._last = now
        elapsed = now - self._began
        rate = progress.done / elapsed if elapsed else 0.0
        remaining = (progress.total - progress.done) / rate if rate else 0.0
        self.stdout.write(f"  {progress.done:,}/{progress.total:,} conversations "
                          f"({progress.done / progress.total:6.1%})  {rate:,.0f}/s  ETA {remaining:.0f} s")
