"""The reports' figures, read from the counters per hour (never from raw conversations).

`report(query, scope)` answers the overview the reports page and API show: totals, a series
over time, the hour of the week, and tables by each dimension and by agent, for a date range
in the desk's time zone, with filters, and the previous period beside it when asked. Each
period is one statement over the counters (GROUPING SETS: every grouping in one scan) and one
over the agents' counters: per hour (`HourRollup`, `AgentHourRollup`) for a day or two, per
day (`DayRollup`, `AgentDayRollup`, with the hour of the week from `HourTotalRollup`) for
longer ranges. The metrics are defined once, in `METRICS` and `ratios` (README,
"Metrics").
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import dateformat
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from conversations.models import Channel, ContactReason
from reports.models import (
    AgentDayRollup,
    AgentHourRollup,
    ConversationFact,
    DayRollup,
    HourRollup,
    HourTotalRollup,
)
from routing.models import AgentProfile, Queue
from timeline.models import ContactKind

HOUR_SUMS = ("arrived", "answered", "answered_in_target", "abandoned", "abandoned_short", "missed_target",
             "answer_wait_sum", "abandon_wait_sum", "created", "closed", "first_reply_count", "first_reply_sum",
             "resolved", "resolution_sum", "handle_sum", "reopened", "fcr", "next_reply_count", "next_reply_sum",
             "surveyed", "rated", "rating_sum", "rating_positive")
AGENT_SUMS = ("offers", "declined", "missed", "answered", "held_seconds", "resolved", "handle_sum", "fcr", "rated",
              "rating_sum", "rating_positive")
PRESENCE_SUMS = ("online_seconds", "away_seconds", "offline_seconds")
DIMENSIONS = ("queue", "channel", "language", "contact_kind", "contact_reason")
COLUMN = {"queue": "queue_id", "channel": "channel", "language": "language", "contact_kind": "contact_kind",
          "contact_reason": "contact_reason"}
HOURLY_UP_TO_DAYS = 2  # ranges this short are drawn hour by hour, longer ones day by day


@dataclass(frozen=True)
class Metric:
    key: str
    label: Any
    format: str  # percent, seconds, count, number
    help: Any = ""


# "Created" and "Resolved" name counts here but dates in the drill-down's columns, and Spanish words
# them apart ("Creadas", "Fecha de creación"); Django REST framework's catalogue, ahead of ours,
# also has a plain "Created" (as a date). Hence their context.
METRICS = (
    Metric("created", pgettext_lazy("report metric", "Created"), "count", _("Conversations opened.")),
    Metric("resolved", pgettext_lazy("report metric", "Resolved"), "count",
           _("Conversations resolved (a reopened one counts when resolved again).")),
    Metric("backlog", _("Backlog"), "count", _("Open conversations at the end of the period.")),
    Metric("arrived", _("Arrived in queue"), "count", _("Work that reached a queue.")),
    Metric("answered", _("Answered"), "count", _("Work an agent took.")),
    Metric("service_level", _("Service level"), "percent",
           _("Share answered within the queue's target wait; answered or abandoned after it are misses; "
             "abandoned within 5 seconds are left out.")),
    Metric("asa_seconds", _("Average speed of answer"), "seconds"),
    Metric("longest_wait_seconds", _("Longest wait"), "seconds"),
    Metric("abandoned", _("Abandoned"), "count", _("The contact left, or hung up, before an agent answered.")),
    Metric("abandonment_rate", _("Abandonment"), "percent"),
    Metric("abandon_wait_seconds", _("Wait before abandoning"), "seconds"),
    Metric("first_reply_seconds", _("First reply time"), "seconds"),
    Metric("next_reply_seconds", _("Next reply time"), "seconds"),
    Metric("handle_seconds", _("Handle time"), "seconds", _("Assigned to resolved, summed over agents.")),
    Metric("resolution_seconds", _("Resolution time"), "seconds"),
    Metric("fcr_rate", _("First-contact resolution"), "percent",
           _("Resolved once, by one agent, not reopened, and no new conversation on the same reason within "
             "7 days.")),
    Metric("reopened", _("Reopened"), "count"),
    Metric("csat", _("Satisfaction"), "percent", _("Share of ratings 4 or 5.")),
    Metric("rating_average", _("Average rating"), "number"),
    Metric("ratings", _("Ratings"), "count"),
    Metric("response_rate", _("Survey response rate"), "percent"),
)
AGENT_METRICS = (
    Metric("offers", _("Offers"), "count"),
    Metric("declined", _("Declined"), "count"),
    Metric("missed", _("Missed"), "count", _("Offers that timed out.")),
    Metric("answered", _("Answered"), "count"),
    Metric("resolved", pgettext_lazy("report metric", "Resolved"), "count"),
    Metric("handle_seconds", _("Handle time"), "seconds"),
    Metric("occupancy", _("Occupancy"), "percent", _("Work held over capacity while online.")),
    Metric("online_seconds", _("Online"), "seconds"),
    Metric("away_seconds", _("Away"), "seconds"),
    Metric("offline_seconds", _("Offline"), "seconds"),
    Metric("fcr_rate", _("First-contact resolution"), "percent"),
    Metric("csat", _("Satisfaction"), "percent"),
)


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def ratios(row: dict[str, Any]) -> dict[str, float | None]:
    """The metrics of one row of sums (every metric's one definition)."""
    # Counts come back from the sums as floats: as integers they read as counts in JSON and exports.
    sums = {name: (row.get(name) or 0) if name.endswith(("_sum", "_max")) else int(row.get(name) or 0)
            for name in (*HOUR_SUMS, "wait_max")}
    counted = sums["answered"] + sums["abandoned"]
    resolved, rated = sums["resolved"], sums["rated"]
    return {
        "created": sums["created"], "resolved": resolved, "arrived": sums["arrived"],
        "answered": sums["answered"], "abandoned": sums["abandoned"],
        "service_level": _share(counted - sums["missed_target"], counted),
        "asa_seconds": _share(sums["answer_wait_sum"], sums["answered"]),
        "longest_wait_seconds": sums["wait_max"] if counted else None,
        "abandonment_rate": _share(sums["abandoned"], counted),
        "abandon_wait_seconds": _share(sums["abandon_wait_sum"], sums["abandoned"]),
        "first_reply_seconds": _share(sums["first_reply_sum"], sums["first_reply_count"]),
        "next_reply_seconds": _share(sums["next_reply_sum"], sums["next_reply_count"]),
        "handle_seconds": _share(sums["handle_sum"], resolved),
        "resolution_seconds": _share(sums["resolution_sum"], resolved),
        "fcr_rate": _share(sums["fcr"], resolved),
        "reopened": sums["reopened"],
        "csat": _share(sums["rating_positive"], rated),
        "rating_average": _share(sums["rating_sum"], rated),
        "ratings": rated,
        "response_rate": _share(rated, sums["surveyed"]),
    }


@dataclass(frozen=True)
class ReportQuery:
    start: date
    end: date  # inclusive
    filters: dict[str, Any] = field(default_factory=dict)  # dimension -> value (queue: its id); agent: id
    compare: bool = False

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnights."""
        return (datetime.combine(self.start, time(), self.zone),
                datetime.combine(self.end + timedelta(days=1), time(), self.zone))

    @property
    def interval(self) -> str:
        return "hour" if (self.end - self.start).days < HOURLY_UP_TO_DAYS else "day"

    def previous(self) -> ReportQuery:
        days = (self.end - self.start).days + 1
        return replace(self, start=self.start - timedelta(days=days), end=self.start - timedelta(days=1),
                       compare=False)


def _by_day(query: ReportQuery) -> bool:
    """Ranges drawn day by day read the counters per day; shorter ones, the counters per hour."""
    return query.interval == "day"


def _where(query: ReportQuery, *, dimensions: tuple[str, ...] = DIMENSIONS, since: datetime | None = None,
           by_day: bool = False) -> tuple[str, list[Any]]:
    """The WHERE clause over a counters table (per hour, or per day when `by_day`): the range
    (or from `since`, a local midnight, on) and the query's filters on `dimensions`."""
    if by_day:
        clauses, params = (["day >= %s", "day <= %s"], [query.start, query.end]) if since is None else (
            ["day >= %s"], [since.astimezone(query.zone).date()])
    else:
        start, end = query.bounds()
        clauses, params = (["hour >= %s", "hour < %s"], [start, end]) if since is None else (
            ["hour >= %s"], [since])
    for name in dimensions:
        if name in query.filters:
            clauses.append(f"{COLUMN[name]} = %s")
            params.append(query.filters[name])
    return " AND ".join(clauses), params


def _grouping_sets(expressions: list[str], sets: dict[str, tuple[str, ...]]) -> dict[int, str]:
    """What GROUPING(*expressions) answers for each named set (a bit per expression, the
    first the highest: 1 when the set does not group by it)."""
    return {sum(1 << (len(expressions) - 1 - position) for position, expression in enumerate(expressions)
                if expression not in grouped): name for name, grouped in sets.items()}


def _fetch(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _hour_groups(query: ReportQuery) -> list[dict[str, Any]]:
    """One scan: the sums per grouping set (the grouping's name in "set"): the total, each
    bucket of the series, each dimension's values, and each hour of the week (ranges of days
    read it apart, from the counters per hour)."""
    by_day = _by_day(query)
    where, params = _where(query, by_day=by_day)
    sums = ", ".join(f"sum({name})::float8 AS {name}" for name in HOUR_SUMS)
    expressions = {"bucket": f"date_trunc('{query.interval}', local)"}
    sets: dict[str, tuple[str, ...]] = {"total": (), "bucket": ("bucket",)}
    if by_day:
        table, local, extra = DayRollup._meta.db_table, "day::timestamp", []
    else:
        table, local, extra = HourRollup._meta.db_table, "hour AT TIME ZONE %s", [settings.TIME_ZONE]
        expressions |= {"weekday": "extract(isodow FROM local)::int",
                        "hour_of_day": "extract(hour FROM local)::int"}
        sets["hour_of_week"] = ("weekday", "hour_of_day")
    expressions |= {COLUMN[name]: COLUMN[name] for name in DIMENSIONS}
    sets |= {name: (COLUMN[name],) for name in DIMENSIONS}
    grouped = ", ".join(f"({', '.join(expressions[name] for name in names)})" for names in sets.values())
    rows = _fetch(f"""
        SELECT GROUPING({", ".join(expressions.values())}) AS grouping,
               {", ".join(f"{expression} AS {name}" for name, expression in expressions.items())},
               {sums}, max(wait_max) AS wait_max
          FROM (SELECT *, {local} AS local FROM {table} WHERE {where}) AS rows
         GROUP BY GROUPING SETS ({grouped})""", [*extra, *params])
    names = _grouping_sets(list(expressions), sets)
    for row in rows:
        row["set"] = names[row["grouping"]]
    return rows + (_hour_of_week(query) if by_day else [])


WEEK_SUMS = ("created", "arrived", "answered", "abandoned", "missed_target")


def _hour_of_week(query: ReportQuery) -> list[dict[str, Any]]:
    """The sums per hour of the week over a range of days: from the totals per hour unless a
    dimension is filtered on."""
    filtered = any(name in query.filters for name in DIMENSIONS)
    table = (HourRollup if filtered else HourTotalRollup)._meta.db_table
    where, params = _where(query, dimensions=DIMENSIONS if filtered else ())
    sums = ", ".join(f"sum({name})::float8 AS {name}" for name in WEEK_SUMS)
    rows = _fetch(f"""
        SELECT extract(isodow FROM local)::int AS weekday, extract(hour FROM local)::int AS hour_of_day, {sums}
          FROM (SELECT *, hour AT TIME ZONE %s AS local FROM {table} WHERE {where}) AS rows
         GROUP BY 1, 2""", [settings.TIME_ZONE, *params])
    for row in rows:
        row["set"] = "hour_of_week"
    return rows


def _agent_rows(query: ReportQuery, scope: Scope) -> list[dict[str, Any]]:
    """Per agent: the work counters (filtered by queue and channel) and the presence seconds."""
    by_day = _by_day(query)
    where, params = _where(query, dimensions=("queue", "channel"), by_day=by_day)
    in_range, range_params = _where(query, dimensions=(), by_day=by_day)
    agent_clause, agent_params = "", []
    agent_id = query.filters.get("agent") if scope.agent_id is None else scope.agent_id
    if agent_id is not None:
        agent_clause, agent_params = " AND agent_id = %s", [agent_id]
    table = (AgentDayRollup if by_day else AgentHourRollup)._meta.db_table
    work = ", ".join(f"sum({name})::float8 AS {name}" for name in AGENT_SUMS)
    presence = ", ".join(f"sum({name})::float8 AS {name}" for name in PRESENCE_SUMS)
    return _fetch(f"""
        WITH work AS (
            SELECT agent_id, channel, {work} FROM {table}
             WHERE {where} AND channel <> ''{agent_clause} GROUP BY agent_id, channel
        ), presence AS (
            SELECT agent_id, {presence} FROM {table}
             WHERE {in_range} AND queue_id = 0 AND channel = ''{agent_clause} GROUP BY agent_id
        )
        SELECT coalesce(w.agent_id, p.agent_id) AS agent_id, w.channel, {", ".join(f"w.{n}" for n in AGENT_SUMS)},
               {", ".join(f"p.{n}" for n in PRESENCE_SUMS)}
          FROM work AS w FULL JOIN presence AS p USING (agent_id)""",
                  [*params, *agent_params, *range_params, *agent_params])


def _agents_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows per (agent, channel) folded per agent, with occupancy: per channel, seconds held
    over the agent's capacity there, summed, over the seconds online."""
    profiles = {profile["pk"]: profile for profile in _agent_profiles(pk__in={row["agent_id"] for row in rows})}
    folded: dict[int, dict[str, float]] = {}
    load: dict[int, float] = {}
    for row in rows:
        sums = folded.setdefault(row["agent_id"], dict.fromkeys((*AGENT_SUMS, *PRESENCE_SUMS), 0.0))
        for name in AGENT_SUMS:
            sums[name] += row[name] or 0
        for name in PRESENCE_SUMS:
            sums[name] = row[name] or 0  # the same on each of the agent's rows
        profile = profiles.get(row["agent_id"])
        capacity = (profile["capacity"] or {}).get(row["channel"] or "", 0) if profile else 0
        if capacity:
            load[row["agent_id"]] = load.get(row["agent_id"], 0.0) + (row["held_seconds"] or 0) / capacity
    table = []
    for agent_id, sums in folded.items():
        profile = profiles.get(agent_id)
        label = profile["label"] if profile else f"#{agent_id}"
        table.append({
            "value": str(agent_id), "label": label,
            "offers": sums["offers"], "declined": sums["declined"], "missed": sums["missed"],
            "answered": sums["answered"], "resolved": sums["resolved"],
            "handle_seconds": _share(sums["handle_sum"], sums["resolved"]),
            "occupancy": _share(load.get(agent_id, 0.0), sums["online_seconds"]),
            "online_seconds": sums["online_seconds"], "away_seconds": sums["away_seconds"],
            "offline_seconds": sums["offline_seconds"],
            "fcr_rate": _share(sums["fcr"], sums["resolved"]),
            "csat": _share(sums["rating_positive"], sums["rated"]),
        })
    return sorted(table, key=lambda row: row["label"].lower())


def _backlog_now(query: ReportQuery) -> int:
    """Open conversations now (neither resolved nor closed), with the query's filters."""
    facts = ConversationFact.objects.filter(resolved_at__isnull=True, closed_at__isnull=True)
    for name in DIMENSIONS:
        if name in query.filters:
            facts = facts.filter(**{COLUMN[name]: query.filters[name]})
    return facts.count()


def _net_since(query: ReportQuery, since: datetime) -> float:
    """Created minus resolved and closed from `since` (a local midnight) until now."""
    by_day = _by_day(query)
    where, params = _where(query, since=since, by_day=by_day)
    table = (DayRollup if by_day else HourRollup)._meta.db_table
    return float(_fetch(f"SELECT coalesce(sum(created - resolved - closed), 0) AS net FROM {table} WHERE {where}",
                        params)[0]["net"])


def _buckets(query: ReportQuery) -> list[datetime]:
    """Every bucket of the range, as local naive datetimes (what date_trunc answers)."""
    step = timedelta(hours=1) if query.interval == "hour" else timedelta(days=1)
    moment, end = datetime.combine(query.start, time()), datetime.combine(query.end + timedelta(days=1), time())
    found = []
    while moment < end:
        found.append(moment)
        moment += step
    return found


@dataclass(frozen=True)
class Scope:
    """What the asker may see: everything (a supervisor) or, as an agent, only their own
    row of the agents' table (agent_id)."""

    agent_id: int | None = None


def _labels(dimension: str, values: list[Any]) -> dict[Any, str]:
    if dimension == "queue":
        return {pk: name for pk, name in Queue.objects.filter(pk__in=values).values_list("pk", "name")}
    if dimension == "channel":
        return {value: str(label) for value, label in Channel.choices}
    if dimension == "contact_kind":
        return {value: str(label) for value, label in ContactKind.choices}
    if dimension == "contact_reason":
        return dict(ContactReason.objects.filter(key__in=values).values_list("key", "label"))
    return {}


def _period(query: ReportQuery, scope: Scope) -> dict[str, Any]:
    rows = _hour_groups(query)
    total = next((row for row in rows if row["set"] == "total"), {})
    start, end = query.bounds()
    net_after = _net_since(query, end) if end <= datetime.now(query.zone) else 0.0
    backlog_end = _backlog_now(query) - net_after
    by_bucket = {row["bucket"]: row for row in rows if row["set"] == "bucket"}
    in_range = sum((row["created"] or 0) - (row["resolved"] or 0) - (row["closed"] or 0)
                   for row in by_bucket.values())
    running = backlog_end - in_range
    series = []
    for bucket in _buckets(query):
        row = by_bucket.get(bucket) or {}
        running += (row.get("created") or 0) - (row.get("resolved") or 0) - (row.get("closed") or 0)
        at = bucket.replace(tzinfo=query.zone)
        # Django's month names, in the page's language (strftime's are always English).
        label = dateformat.format(at, "H:00" if query.interval == "hour" else "d M")
        series.append({"at": at.isoformat(), "label": label,
                       **ratios(row), "backlog": int(running)})
    tables: dict[str, list[dict[str, Any]]] = {}
    for dimension in DIMENSIONS:
        group = [row for row in rows if row["set"] == dimension]
        labels = _labels(dimension, [row[COLUMN[dimension]] for row in group])
        tables[dimension] = sorted(
            ({"value": str(row[COLUMN[dimension]]),
              "label": labels.get(row[COLUMN[dimension]], str(row[COLUMN[dimension]]) or "—"), **ratios(row)}
             for row in group), key=lambda entry: -(entry["arrived"] + entry["created"]))
    tables["agent"] = _agents_table(_agent_rows(query, scope))
    hour_of_week = {(row["weekday"] - 1, row["hour_of_day"]): row for row in rows if row["set"] == "hour_of_week"}
    return {
        "totals": {**ratios(total), "backlog": int(backlog_end)},
        "series": series,
        "hour_of_week": [{"weekday": day, "hour": hour, **_week_cell(hour_of_week.get((day, hour)))}
                         for day in range(7) for hour in range(24)],
        "tables": tables,
    }


def _week_cell(row: dict[str, Any] | None) -> dict[str, Any]:
    figures = ratios(row or {})
    return {name: figures[name] for name in ("created", "arrived", "service_level")}


def report(query: ReportQuery, scope: Scope) -> dict[str, Any]:
    """The overview: this period's figures and, when asked, the previous period's beside them."""
    current = _period(query, scope)
    previous = _period(query.previous(), scope) if query.compare else None
    previous_range = query.previous()
    return {
        "range": {"start": query.start.isoformat(), "end": query.end.isoformat(), "time_zone": settings.TIME_ZONE,
                  "interval": query.interval},
        "previous_range": {"start": previous_range.start.isoformat(), "end": previous_range.end.isoformat()}
        if previous else None,
        "metrics": [_metric(metric) for metric in METRICS],
        "agent_metrics": [_metric(metric) for metric in AGENT_METRICS],
        "totals": current["totals"],
        "previous": previous["totals"] if previous else None,
        "series": current["series"],
        "previous_series": previous["series"] if previous else None,
        "hour_of_week": current["hour_of_week"],
        "tables": current["tables"],
        "choices": choices(scope),
    }


def _metric(metric: Metric) -> dict[str, str]:
    return {"key": metric.key, "label": str(metric.label), "format": metric.format, "help": str(metric.help)}


def choices(scope: Scope) -> dict[str, list[dict[str, str]]]:
    """What each filter offers."""
    agents = _agent_profiles(**({} if scope.agent_id is None else {"pk": scope.agent_id}))
    return {
        "queue": [{"value": key, "label": name} for key, name in
                  Queue.objects.order_by("name").values_list("key", "name")],
        "channel": [{"value": value, "label": str(label)} for value, label in Channel.choices],
        "language": [{"value": code, "label": code} for code in _languages()],
        "contact_kind": [{"value": value, "label": str(label)} for value, label in ContactKind.choices],
        "contact_reason": [{"value": key, "label": label} for key, label in
                           ContactReason.objects.order_by("label").values_list("key", "label")],
        "agent": [{"value": str(profile["pk"]), "label": profile["label"]} for profile in agents],
    }


def _agent_profiles(**filters: Any) -> list[dict[str, Any]]:
    """Agents as plain values, by username: id, capacity and the label the reports show (the
    full name, else the username), without building a model per agent and user."""
    rows = (AgentProfile.objects.filter(**filters).order_by("user__username")
            .values("pk", "capacity", "user__username", "user__first_name", "user__last_name"))
    return [{"pk": row["pk"], "capacity": row["capacity"],
             "label": f"{row['user__first_name']} {row['user__last_name']}".strip() or row["user__username"]}
            for row in rows]


def _languages() -> list[str]:
    """The languages the desk's agents speak (what conversations are routed on)."""
    spoken: set[str] = set()
    for languages in AgentProfile.objects.values_list("languages", flat=True):
        spoken.update(languages or [])
    return sorted(spoken)

