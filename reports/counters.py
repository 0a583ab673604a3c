"""Writing the counters: a batch of differences (`reports.contributions.Deltas`) added to
the rows per hour, and with them to the rows per day and per hour in total.

The rows per day (`DayRollup`, `AgentDayRollup`: a day in the desk's time zone is the hours
that start on it there) and per hour in total (`HourTotalRollup`) are sums of the rows per
hour: every batch adds its differences to all of them, one statement a table, and
`days_recount` works them out again from the rows per hour (after a rebuild, or when
TIME_ZONE changed). Callers hold the rollups' lock (one writer at a time).
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from reports.contributions import Deltas
from reports.models import (
    AGENT_COUNTERS,
    AGENT_DIMENSIONS,
    HOUR_COUNTERS,
    HOUR_DIMENSIONS,
    AgentDayRollup,
    AgentHourRollup,
    DayRollup,
    HourRollup,
    HourTotalRollup,
    ItemFact,
)

HOUR_TYPES = ["int", "text", "text", "text", "text"]
AGENT_TYPES = ["int", "int", "text"]

Row = tuple[tuple, dict[str, float], float]  # key (time first, then dimensions), counters, longest wait


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _upsert(table: str, time_column: tuple[str, str], dimensions: tuple[str, ...], counters: tuple[str, ...],
            rows: list[Row], types: list[str], *, wait_max: bool) -> None:
    """Add `rows` to the counters of `table` in one statement (`wait_max`: the longest wait
    is raised to the row's, never lowered here)."""
    if not rows:
        return
    column, kind = time_column
    columns = [column, *dimensions, *(["wait_max"] if wait_max else []), *counters]
    arrays: list[list[Any]] = [[key[position] for key, _counters, _wait in rows]
                               for position in range(1 + len(dimensions))]
    kinds = [kind, *types]
    if wait_max:
        arrays.append([float(wait) for _key, _counters, wait in rows])
        kinds.append("float8")
    floats = [name.endswith(("_sum", "_seconds")) for name in counters]
    arrays += [[float(row_counters.get(name, 0)) if is_float else round(row_counters.get(name, 0))
                for _key, row_counters, _wait in rows] for name, is_float in zip(counters, floats, strict=True)]
    kinds += ["float8" if is_float else "bigint" for is_float in floats]
    updates = [f"{_quote(name)} = {table}.{_quote(name)} + EXCLUDED.{_quote(name)}" for name in counters]
    if wait_max:
        updates.append(f"wait_max = GREATEST({table}.wait_max, EXCLUDED.wait_max)")
    sql = (f"INSERT INTO {table} ({', '.join(map(_quote, columns))}) "
           f"SELECT * FROM unnest({', '.join(f'%s::{kind}[]' for kind in kinds)}) "
           f"ON CONFLICT ({', '.join(map(_quote, [column, *dimensions]))}) DO UPDATE SET {', '.join(updates)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def _fold(rows: list[Row], key_of: Callable[[tuple], tuple]) -> list[Row]:
    """Rows summed under a coarser key, in key order (writers lock rows in one order)."""
    counters: dict[tuple, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    waits: dict[tuple, float] = {}
    for key, row_counters, wait in rows:
        coarse = key_of(key)
        for name, value in row_counters.items():
            counters[coarse][name] += value
        waits[coarse] = max(waits.get(coarse, 0.0), wait)
    return [(key, dict(counters[key]), waits[key]) for key in sorted(counters)]


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _local_days(zone: zoneinfo.ZoneInfo) -> Callable[[datetime], date]:
    days: dict[datetime, date] = {}

    def local_day(hour: datetime) -> date:
        if hour not in days:
            days[hour] = hour.astimezone(zone).date()
        return days[hour]

    return local_day


def counters_add(deltas: Deltas) -> None:
    """Write the differences to the rows per hour, per day and per hour in total; the longest
    waits a removal may have lowered worked out again from the stored facts."""
    hour_rows = deltas.hour_rows()
    agent_rows = [(key, counters, 0.0) for key, counters in deltas.agent_rows()]
    local_day = _local_days(_zone())
    hour_time, day_time = ("hour", "timestamptz"), ("day", "date")
    _upsert(HourRollup._meta.db_table, hour_time, HOUR_DIMENSIONS, HOUR_COUNTERS, hour_rows, HOUR_TYPES,
            wait_max=True)
    _upsert(DayRollup._meta.db_table, day_time, HOUR_DIMENSIONS, HOUR_COUNTERS,
            _fold(hour_rows, lambda key: (local_day(key[0]), *key[1:])), HOUR_TYPES, wait_max=True)
    _upsert(HourTotalRollup._meta.db_table, hour_time, (), HOUR_COUNTERS,
            _fold(hour_rows, lambda key: key[:1]), [], wait_max=False)
    _upsert(AgentHourRollup._meta.db_table, hour_time, AGENT_DIMENSIONS, AGENT_COUNTERS, agent_rows, AGENT_TYPES,
            wait_max=False)
    _upsert(AgentDayRollup._meta.db_table, day_time, AGENT_DIMENSIONS, AGENT_COUNTERS,
            _fold(agent_rows, lambda key: (local_day(key[0]), *key[1:])), AGENT_TYPES, wait_max=False)
    removed = sorted(deltas.wait_max_removed.items())
    if removed:
        _hour_wait_max_recount(removed)
        _day_wait_max_recount(sorted({(local_day(key[0]), *key[1:]): wait for key, wait in removed}.items()))


_SAME_DIMENSIONS = " AND ".join(f"{{a}}.{name} = {{b}}.{name}" for name in HOUR_DIMENSIONS)
_KEY_ARRAYS = "%s::int[], %s::text[], %s::text[], %s::text[], %s::text[]"


def _wait_max_recount(table: str, time_column: tuple[str, str], removed: list, longest: str,
                      params: list[Any]) -> None:
    """The longest waits of `table`'s rows a removal may have lowered (`removed`: key, the
    wait taken away), worked out again by `longest`, a query over the row `r`."""
    column, kind = time_column
    arrays = [[key[position] for key, _wait in removed] for position in range(6)] + [[w for _k, w in removed]]
    with connection.cursor() as cursor:
        cursor.execute(f"""
            UPDATE {table} AS r SET wait_max = coalesce(({longest}), 0)
              FROM unnest(%s::{kind}[], {_KEY_ARRAYS}, %s::float8[])
                   AS k({column}, {", ".join(HOUR_DIMENSIONS)}, removed)
             WHERE r.{column} = k.{column} AND {_SAME_DIMENSIONS.format(a="r", b="k")}
               AND k.removed >= r.wait_max""", [*params, *arrays])


def _hour_wait_max_recount(removed: list) -> None:
    """The hours' from the ended items' waits."""
    _wait_max_recount(HourRollup._meta.db_table, ("hour", "timestamptz"), removed, f"""
        SELECT max(f.wait_seconds) FROM {ItemFact._meta.db_table} AS f
         WHERE f.enqueued_at >= r.hour AND f.enqueued_at < r.hour + interval '1 hour'
           AND {_SAME_DIMENSIONS.format(a="f", b="r")} AND f.outcome IN ('answered', 'abandoned')""", [])


def _day_wait_max_recount(removed: list) -> None:
    """The days' from their hours' (worked out again first)."""
    _wait_max_recount(DayRollup._meta.db_table, ("day", "date"), removed, f"""
        SELECT max(h.wait_max) FROM {HourRollup._meta.db_table} AS h
         WHERE h.hour >= (r.day::timestamp AT TIME ZONE %s) AND h.hour < ((r.day + 1)::timestamp AT TIME ZONE %s)
           AND {_SAME_DIMENSIONS.format(a="h", b="r")}""", [settings.TIME_ZONE, settings.TIME_ZONE])


def days_recount(start: datetime, end: datetime) -> tuple[date, date]:
    """Work the rows per day (every day [start, end) touches, whole) and per hour in total out
    again from the rows per hour; the first and last day."""
    zone, zone_name = _zone(), settings.TIME_ZONE
    first, last = start.astimezone(zone).date(), (end - timedelta(hours=1)).astimezone(zone).date()
    inside = "hour >= (%s::timestamp AT TIME ZONE %s) AND hour < (%s::timestamp AT TIME ZONE %s)"
    inside_params = [first, zone_name, last + timedelta(days=1), zone_name]
    local_day = ("day", "(hour AT TIME ZONE %s)::date", [zone_name])
    with connection.cursor() as cursor:
        for table in (DayRollup, AgentDayRollup):
            cursor.execute(f"DELETE FROM {table._meta.db_table} WHERE day >= %s AND day <= %s", [first, last])
        cursor.execute(f"DELETE FROM {HourTotalRollup._meta.db_table} WHERE {inside}", inside_params)
        for target, source, (column, expression, params), dimensions, counters, wait in (
                (DayRollup, HourRollup, local_day, HOUR_DIMENSIONS, HOUR_COUNTERS, True),
                (AgentDayRollup, AgentHourRollup, local_day, AGENT_DIMENSIONS, AGENT_COUNTERS, False),
                (HourTotalRollup, HourRollup, ("hour", "hour", []), (), HOUR_COUNTERS, False)):
            waits = ["wait_max"] if wait else []
            columns = ", ".join(map(_quote, [column, *dimensions, *waits, *counters]))
            selected = ", ".join([expression, *dimensions, *(f"max({name})" for name in waits),
                                  *(f"sum({_quote(name)})" for name in counters)])
            cursor.execute(f"INSERT INTO {target._meta.db_table} ({columns}) SELECT {selected} "
                           f"FROM {source._meta.db_table} WHERE {inside} GROUP BY {', '.join(['1', *dimensions])}",
                           [*params, *inside_params])
    return first, last
