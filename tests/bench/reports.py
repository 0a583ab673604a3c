"""Reports benchmark: the overview through the real endpoint on 10,000,000 conversations, and
the rollups keeping pace with a busy desk.

Read (`--only read`). In its own database (`<database>_bench_reports`, created and migrated
here), 10,000,000 conversations over the 400 days up to the day it is generated, with their
work items, contacts, agents and queues, and the reports' facts and counters per hour, all
written inside PostgreSQL by tests/bench/reports_data.py (about an hour on two cores; kept
between runs, and a run that was interrupted is detected and done again; `--rebuild-data`
generates it afresh). Then the real ASGI server (uvicorn, as `make run` serves it) answers
`GET /api/v1/reports/overview/` to a supervisor's token, one request at a time, timed at the
client (wall clock, the JSON read whole):

- the last 30 days for all queues with the previous 30 beside them (`compare=1`, as the
  reports page asks): target p95 under 1 s;
- one day (the last whole one) for one queue and one language: target p95 under 200 ms.

Where a report's time goes is printed too: each statement the endpoint runs, timed with
EXPLAIN ANALYZE in this process (the plans are written to a file).

Rollups (`--only rollups`, tests/bench/reports_pace.py). In a small scratch database
(`<database>_bench_reports_pace`), conversations are driven through their lives at a fixed
rate by the desk's own writers (opened, queued, offered, accepted, replies, resolved,
surveyed, rated: 200 conversations resolved and about 2,000 events a second for the
reports' consumers), while a separate process runs the beat's task `reports.tasks.rollups_drain`
every 2 s (as the beat does; back to back when a call overruns). Measured each second: the lag, from the oldest
entry the reports' consumers have not applied yet to now (target: under 10 s at p95 and at
its worst), and the events applied a second.

    python -m tests.bench.reports [--only read|rollups] [--rebuild-data] [--conversations 10000000]
        [--requests 30] [--rate 200] [--seconds 60]

Exits 1 naming what missed its target (make bench goes on to the next benchmark).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bench import harness, reports_data

DATABASE = "bench_reports"
WIDE_TARGET_MS = 1_000.0
NARROW_TARGET_MS = 200.0
LAG_TARGET_SECONDS = 10.0
SUPERVISOR = "bench-reports-supervisor"
GENERATION_SETTINGS = [
    # Set before the session's first temporary table (the per-chunk plan).
    "SET temp_buffers = '512MB'", "SET work_mem = '256MB'", "SET maintenance_work_mem = '1GB'",
    "SET synchronous_commit = off",
]


# --- the data set ------------------------------------------------------------------------------


def data_ready(args: argparse.Namespace) -> dict[str, Any]:
    """The kept data set, or a new one when there is none, it is incomplete or another shape."""
    from django.db import connection

    marker = reports_data.marker_read()
    wanted = {"version": reports_data.VERSION, "conversations": args.conversations, "days": args.days,
              "contacts": args.contacts}
    if marker and not args.rebuild_data and all(marker[key] == value for key, value in wanted.items()):
        harness.step(f"the data set is there already: {marker['conversations']:,} conversations from "
                     f"{marker['start']:%Y-%m-%d} to {marker['end']:%Y-%m-%d %H:%M} UTC (generated "
                     f"{marker['completed_at']:%Y-%m-%d %H:%M} in {marker['seconds'] / 60:.0f} min)")
        from reports.models import DayRollup

        if not DayRollup.objects.exists():  # kept from before the counters per day
            reports_data.days_derive(marker["start"], marker["end"] + timedelta(hours=1), progress=harness.step)
        return marker
    if marker is None and reports_data.marker_exists_incomplete():
        harness.step("an earlier generation did not finish: generating the data set again")
    elif marker and not args.rebuild_data:
        harness.step(f"the kept data set has another shape ({ {key: marker[key] for key in wanted} }): "
                     "generating it again")
    end = datetime.now(UTC).replace(microsecond=0)
    dataset = reports_data.dataset_for(conversations=args.conversations, days=args.days, contacts=args.contacts,
                                       end=end)
    harness.step(f"generating {dataset.conversations:,} conversations from {dataset.start:%Y-%m-%d} to "
                 f"{dataset.end:%Y-%m-%d %H:%M} UTC inside PostgreSQL (progress below; about an hour on 2 cores)")
    began = time.monotonic()
    reports_data.marker_clear()
    reports_data.tables_empty()
    with connection.cursor() as cursor:
        for statement in GENERATION_SETTINGS:
            cursor.execute(statement)
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            # Every reference is right by construction: the foreign keys' checks (a lookup per
            # row and key) are skipped for the load, as pg_restore does. No other trigger exists.
            cursor.execute("SET session_replication_role = replica")
    reports_data.dataset_generate(dataset, progress=harness.step)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        for table in reports_data.DATA_TABLES + ["conversations_contactreason", "routing_queue"]:
            vacuumed = time.monotonic()
            cursor.execute(f"VACUUM (ANALYZE) {table}")
            harness.step(f"VACUUM ANALYZE {table} ({time.monotonic() - vacuumed:.0f} s)")
    reports_data.marker_write(dataset, time.monotonic() - began)
    harness.step(f"data set complete in {(time.monotonic() - began) / 60:.1f} min")
    return reports_data.marker_read()


def data_description() -> dict[str, Any]:
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        database_bytes = cursor.fetchone()[0]
        cursor.execute("""SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint FROM pg_class c
                           WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
                           ORDER BY 2 DESC LIMIT 8""")
        for name, size, rows in cursor.fetchall():
            sizes[name] = (size, rows)
    return {"database_bytes": database_bytes, "tables": sizes}


def supervisor_token() -> str:
    """A supervisor (the core's permission, not a superuser) and their API token."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username=SUPERVISOR, defaults={"is_active": True})
    user.user_permissions.add(Permission.objects.get(codename="supervise", content_type__app_label="supportdesk"))
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


# --- timing the endpoint -----------------------------------------------------------------------


def timed_requests(port: int, token: str, path: str, *, warmups: int, count: int) -> tuple[list[float], dict]:
    """Wall-clock milliseconds of `count` GETs after `warmups`, one at a time on one kept-alive
    connection, each until its body is read whole; and the last answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    latencies, body = [], b""
    for number in range(warmups + count):
        began = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - began) * 1000
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}: {body[:500]!r}")
        if number >= warmups:
            latencies.append(elapsed)
    connection.close()
    return latencies, json.loads(body)


def statements_explained(query_params: dict[str, str], plans: Path) -> list[tuple[float, str]]:
    """Each statement the overview runs for these parameters, in this process, timed by
    EXPLAIN (ANALYZE, BUFFERS); the plans appended to `plans`. (ms, a short description)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from reports import selectors
    from reports.access import reports_scope
    from reports.filters import report_query

    user = get_user_model().objects.get(username=SUPERVISOR)
    scope = reports_scope(user)
    captured: list[tuple[str, Any]] = []

    def capture(execute, sql, params, many, context):  # noqa: ANN001 (Django's execute_wrapper)
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        selectors.report(report_query(query_params, scope), scope)
    timings = []
    with connection.cursor() as cursor, plans.open("a") as out:
        for sql, params in captured:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            text = "\n".join(row[0] for row in cursor.fetchall())
            out.write(f"-- {query_params}\n{' '.join(sql.split())[:2000]}\n{text}\n\n")
            timings.append((plan["Execution Time"] + plan.get("Planning Time", 0.0), _describe(sql, plan)))
    return timings


def request_profile(query_params: dict[str, str], *, repeat: int = 3, top: int = 14) -> dict[str, Any]:
    """The overview's view in this process (DRF, the selectors, the JSON), under cProfile over
    `repeat` requests: the CPU per request and the functions it goes to."""
    import cProfile
    import io
    import pstats

    from django.contrib.auth import get_user_model
    from rest_framework.test import APIRequestFactory, force_authenticate

    from reports.api import ReportOverviewView

    user = get_user_model().objects.get(username=SUPERVISOR)
    view = ReportOverviewView.as_view()

    def request() -> None:
        get = APIRequestFactory().get("/api/v1/reports/overview/", query_params, HTTP_ACCEPT="application/json")
        force_authenticate(get, user=user)
        view(get).render()

    request()  # warm
    profiler = cProfile.Profile()
    cpu = time.process_time()
    profiler.enable()
    for _ in range(repeat):
        request()
    profiler.disable()
    cpu_ms = (time.process_time() - cpu) * 1000 / repeat
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return {"cpu_ms": cpu_ms, "profile": out.getvalue()}


_TABLES = {"reports_hourrollup": "HourRollup", "reports_dayrollup": "DayRollup",
           "reports_hourtotalrollup": "HourTotalRollup", "reports_agenthourrollup": "AgentHourRollup",
           "reports_agentdayrollup": "AgentDayRollup"}


def _describe(sql: str, plan: dict) -> str:
    words = " ".join(sql.split())
    found = next((name for table, name in _TABLES.items() if f"FROM {table}" in words), None)
    if "GROUPING SETS" in words:
        what = "GROUPING SETS"
    elif "FULL JOIN presence" in words:
        what = "work and presence"
    elif "sum(created - resolved - closed)" in words:
        what = "backlog since the end"
    elif "isodow" in words:
        what = "hour of the week"
    else:
        found = words.split(" FROM ", 1)[1].split()[0].strip('"') if " FROM " in words else "?"
        what = ""
    return f"{found} {what} ({_rows_read(plan['Plan']):,} rows read)".replace("  ", " ")


def _rows_read(node: dict) -> int:
    """Rows the plan's scans returned (the leaves), summed over loops."""
    children = node.get("Plans", [])
    if not children:
        return int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1))
    return sum(_rows_read(child) for child in children)


def read_phase(args: argparse.Namespace) -> dict[str, Any]:
    env = harness.bench_env(database=DATABASE, DATABASE_POOL="false")
    harness.prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")  # whitenoise: no collectstatic for a bench
    django.setup()
    from django.db import connection

    marker = data_ready(args)
    description = data_description()
    token = supervisor_token()
    connection.close()
    last_day = marker["end"].astimezone(UTC).date()  # the desk's time zone (settings.TIME_ZONE) is UTC
    wide = {"start": (last_day - timedelta(days=29)).isoformat(), "end": last_day.isoformat(), "compare": "1"}
    one_day = (last_day - timedelta(days=1)).isoformat()
    narrow = {"start": one_day, "end": one_day, "queue": args.queue, "language": args.language}
    port = harness.free_port()
    web = [str(harness.VENV_BIN / "uvicorn"), "supportdesk.asgi:application", "--host", "127.0.0.1", "--port",
           str(port), "--no-access-log", "--lifespan", "off", "--log-level", "warning"]
    results: dict[str, Any] = {"marker": marker, "description": description, "wide": wide, "narrow": narrow,
                               "show_profiles": args.profile}
    with harness.processes([web], env=env):
        harness.wait_for_port(port)
        for name, params in (("wide", wide), ("narrow", narrow)):
            path = "/api/v1/reports/overview/?" + "&".join(f"{key}={value}" for key, value in params.items())
            harness.step(f"{args.warmups} + {args.requests} requests: GET {path}")
            latencies, body = timed_requests(port, token, path, warmups=args.warmups, count=args.requests)
            results[f"{name}_ms"] = latencies
            results[f"{name}_totals"] = {key: body["totals"].get(key) for key in
                                         ("created", "resolved", "arrived", "service_level", "abandonment_rate",
                                          "fcr_rate", "csat", "backlog")}
            results[f"{name}_bytes"] = len(json.dumps(body))
    plans = Path(tempfile.gettempdir()) / "supportdesk-bench-reports-plans.txt"
    plans.write_text("")
    harness.step(f"the statements of each report, with EXPLAIN ANALYZE (plans in {plans})")
    results["wide_statements"] = statements_explained(wide, plans)
    results["narrow_statements"] = statements_explained(narrow, plans)
    results["plans"] = str(plans)
    for name, params in (("wide", wide), ("narrow", narrow)):
        harness.step(f"the {name} report's view in this process, under cProfile")
        results[f"{name}_profile"] = request_profile(params)
    return results


# --- the report ---------------------------------------------------------------------------------


def _gib(size: float) -> str:
    return f"{size / 2**30:.1f} GiB"


def read_report(results: dict[str, Any], rows: list[list[str]]) -> None:
    marker, description = results["marker"], results["description"]
    print(f"  data: {marker['conversations']:,} conversations from {marker['start']:%Y-%m-%d} to "
          f"{marker['end']:%Y-%m-%d %H:%M} UTC ({marker['days']} days, {marker['contacts']:,} contacts, "
          f"{len(reports_data.QUEUES)} queues, {sum(spec.agents for spec in reports_data.QUEUES)} agents); "
          f"database {_gib(description['database_bytes'])}; largest tables: "
          + ", ".join(f"{name} {_gib(size)} ({count:,} rows)" for name, (size, count)
                      in list(description["tables"].items())[:6]))
    for name, label, target in (("wide", "30 days, all queues, compare=1", WIDE_TARGET_MS),
                                ("narrow", f"1 day, queue {results['narrow']['queue']}, language "
                                           f"{results['narrow']['language']}", NARROW_TARGET_MS)):
        latencies = results[f"{name}_ms"]
        p95 = harness.percentile(latencies, 0.95)
        rows.append([f"{label} ({len(latencies)} requests)",
                     f"p50 {statistics.median(latencies):,.0f} ms, p95 {p95:,.0f} ms, "
                     f"max {max(latencies):,.0f} ms",
                     harness.duration(f"{name} report p50", statistics.median(latencies)),
                     f"p95 < {target:,.0f} ms", "yes" if p95 < target else "NO"])


def read_details(results: dict[str, Any]) -> None:
    for name in ("wide", "narrow"):
        params = results[name]
        statements = results[f"{name}_statements"]
        total = sum(ms for ms, _what in statements)
        print(f"  {name} report ({'&'.join(f'{key}={value}' for key, value in params.items())}; "
              f"{results[f'{name}_bytes']:,} bytes of JSON): {len(statements)} statements, {total:,.0f} ms in "
              "PostgreSQL (EXPLAIN ANALYZE, this process), the slowest: "
              + "; ".join(f"{what} {ms:,.0f} ms" for ms, what in sorted(statements, reverse=True)[:4]))
        profile = results[f"{name}_profile"]
        print(f"    in this process (the view, the selectors, the JSON; cProfile on): "
              f"{harness.cpu(f'{name} report CPU in process', profile['cpu_ms'], 'report')}")
        if results.get("show_profiles"):
            print("\n".join("      " + line for line in profile["profile"].strip().splitlines()))
        totals = results[f"{name}_totals"]
        print("    its totals: " + ", ".join(f"{key} {value:,.3f}" if isinstance(value, float) and value < 10
                                             else f"{key} {value:,.0f}" if isinstance(value, int | float)
                                             else f"{key} {value}" for key, value in totals.items()))
    print(f"  plans: {results['plans']}")


def pace_phase(args: argparse.Namespace) -> dict[str, Any]:
    """The rollups' pace, in a process of its own (its own database and Django set-up)."""
    out = Path(tempfile.mkstemp(prefix="supportdesk-bench-reports-pace-", suffix=".json")[1])
    command = [sys.executable, "-m", "tests.bench.reports_pace", "--rate", str(args.rate), "--seconds",
               str(args.seconds), "--out", str(out), *(["--profile"] if args.profile else [])]
    done = subprocess.run(command, cwd=harness.ROOT)
    if done.returncode:
        raise SystemExit(f"the rollups' pace measurement failed ({done.returncode})")
    return json.loads(out.read_text())


def pace_report(results: dict[str, Any], rows: list[list[str]]) -> None:
    lags = results["lag_seconds"]
    p95 = harness.percentile(lags, 0.95)
    worst = max(lags)
    rows.append([f"rollups: offered, over {results['window_seconds']:.0f} s",
                 f"{results['resolved_per_second']:,.0f} conversations resolved/s, "
                 f"{results['events_per_second']:,.0f} events/s",
                 harness.rate("events offered to the rollups", results["events_per_second"], "events/s"), "", ""])
    rows.append(["rollups: applied by the drainer",
                 f"{results['drained_per_second']:,.0f} events/s",
                 harness.rate("events applied by the rollups", results["drained_per_second"], "events/s"),
                 f">= {results['events_per_second']:,.0f}/s",
                 "yes" if results["drained_per_second"] >= 0.98 * results["events_per_second"] else "NO"])
    rows.append(["rollups: lag (oldest entry not applied)",
                 f"p50 {harness.percentile(lags, 0.5):.1f} s, p95 {p95:.1f} s, max {worst:.1f} s", "",
                 f"< {LAG_TARGET_SECONDS:.0f} s", "yes" if worst < LAG_TARGET_SECONDS else "NO"])


def pace_details(results: dict[str, Any]) -> None:
    drainer_ms = results["drainer_cpu_seconds"] * 1000 / max(results["drained_events"], 1)
    backend_ms = results["drainer_backend_cpu_seconds"] * 1000 / max(results["drained_events"], 1)
    print(f"  rollups: scratch database {results['database']}; driver: {results['description']}")
    print(f"    drainer ({results['drain']} every {results['interval']:.0f} s, back to back when a call "
          "overruns): "
          f"{results['drainer_calls']} calls, {harness.cpu('drainer CPU per event', drainer_ms, 'event')} "
          f"in its process, and {backend_ms:.2f} ms in its PostgreSQL backend; the driver's process used "
          f"{results['driver_cores']:.2f} cores; the machine was busy {results['machine_busy_cores']:.2f} of "
          f"{os.cpu_count()} cores")
    print(f"    driver kept its pace: {results['driver_late_ticks']} of {results['ticks']} seconds ran late; "
          f"after the last event, all applied in {results['catch_up_seconds']:.1f} s; "
          f"consistency: {results['consistency']}")
    drain = results.get("drain_profile")
    if drain:
        per = drain["conversations"]
        python = harness.cpu("refresh Python CPU per conversation", drain["python_cpu_ms"] / per, "conversation")
        print(f"    one drain batch, conversations_refresh of {per} conversations (their facts up to date): "
              f"{drain['wall_ms']:,.0f} ms, {drain['statements']} statements, Python {python}, "
              f"PostgreSQL {drain['postgresql_cpu_ms'] / per:.2f} ms/conversation")
        print("      its cProfile:")
        print("\n".join("      " + line for line in drain["profile"].strip().splitlines()[:30]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=["read", "rollups"],
                        help="run only this part (repeatable; both by default)")
    parser.add_argument("--rebuild-data", action="store_true", help="generate the read data set afresh")
    parser.add_argument("--conversations", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--contacts", type=int, default=400_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per report")
    parser.add_argument("--warmups", type=int, default=3)
    parser.add_argument("--queue", default="chat.intl", help="the 1-day report's queue (its key)")
    parser.add_argument("--language", default="fr", help="the 1-day report's language")
    parser.add_argument("--profile", action="store_true",
                        help="print the cProfile of each report's view, and profile a rollups drain")
    parser.add_argument("--rate", type=float, default=200.0, help="conversations resolved a second (rollups)")
    parser.add_argument("--seconds", type=float, default=60.0, help="the rollups' measured window")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    parts = args.only or ["read", "rollups"]
    started = time.monotonic()
    harness.yardsticks()  # before the benchmark's own load, once for the process
    read = read_phase(args) if "read" in parts else None
    pace = pace_phase(args) if "rollups" in parts else None

    print()
    print("Reports: the overview through the real endpoint, and the rollups' pace")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; uvicorn (one process, as make run), PostgreSQL and the client on the same "
          f"machine; load before: {os.getloadavg()[0]:.2f}")
    rows = [["measure", "figure", "against the yardsticks", "target", "met"]]
    if read:
        read_report(read, rows)
    if pace:
        pace_report(pace, rows)
    harness.table(rows)
    if read:
        read_details(read)
    if pace:
        pace_details(pace)
    print(f"  wall time: {(time.monotonic() - started) / 60:.1f} min")
    harness.json_write(args, benchmark="reports", consistent=not pace or pace["consistency"] == "OK")
    misses = [row[0] for row in rows[1:] if row[4] == "NO"]
    if pace and pace["consistency"] != "OK":
        misses.append("rollups consistency")
    if misses:
        raise SystemExit("reports benchmark: missed " + "; ".join(misses))


if __name__ == "__main__":
    main()
