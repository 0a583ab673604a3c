"""An install with counters per hour gets its days' and hours' totals when it migrates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reports.models import AGENT_COUNTERS, HOUR_COUNTERS, AgentDayRollup, DayRollup, HourTotalRollup

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def test_migrating_sums_the_days_and_the_hours_totals_from_the_counters_per_hour(settings):
    settings.TIME_ZONE = "America/Sao_Paulo"  # UTC-3: 02:00 UTC on the 3rd is the 2nd there
    _migrate([("reports", "0002_backlog")])
    try:
        with connection.cursor() as cursor:
            others = [name for name in HOUR_COUNTERS if name != "created"]
            for hour, queue_id, created, wait in ((datetime(2026, 3, 2, 12, tzinfo=UTC), 1, 2, 30.0),
                                                  (datetime(2026, 3, 3, 2, tzinfo=UTC), 1, 3, 50.0),
                                                  (datetime(2026, 3, 3, 2, tzinfo=UTC), 2, 4, 10.0),
                                                  (datetime(2026, 3, 3, 12, tzinfo=UTC), 1, 5, 20.0)):
                cursor.execute(f"INSERT INTO reports_hourrollup (hour, queue_id, channel, language, contact_kind, "
                               f"contact_reason, wait_max, created, {', '.join(others)}) "
                               f"VALUES (%s, %s, 'chat', 'es', 'customer', '', %s, %s{', 0' * len(others)})",
                               [hour, queue_id, wait, created])
            others = [name for name in AGENT_COUNTERS if name != "online_seconds"]
            cursor.execute(f"INSERT INTO reports_agenthourrollup (hour, agent_id, queue_id, channel, "
                           f"online_seconds, {', '.join(others)}) "
                           f"VALUES (%s, 7, 0, '', 3600{', 0' * len(others)})",
                           [datetime(2026, 3, 3, 2, tzinfo=UTC)])
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

        days = {(row.day, row.queue_id): (row.created, row.wait_max) for row in DayRollup.objects.all()}
        assert days == {(date(2026, 3, 2), 1): (5, 50.0), (date(2026, 3, 2), 2): (4, 10.0),
                        (date(2026, 3, 3), 1): (5, 20.0)}
        assert list(AgentDayRollup.objects.values_list("day", "agent_id", "online_seconds")) == [
            (date(2026, 3, 2), 7, 3600.0)]
        assert sorted(HourTotalRollup.objects.values_list("hour", "created")) == [
            (datetime(2026, 3, 2, 12, tzinfo=UTC), 2), (datetime(2026, 3, 3, 2, tzinfo=UTC), 7),
            (datetime(2026, 3, 3, 12, tzinfo=UTC), 5)]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
