"""Shared pieces of the benchmarks: a scratch database, servers started and stopped, CPU meters,
the machine's yardsticks and the figures quoted against them.

Benchmarks run against a database of their own (`<name>_bench`, or `<name>_bench_<suffix>` for
one that must not share it), never the development one, with the real web server (uvicorn),
Celery worker, PostgreSQL and Redis of this machine.

Every benchmark measures the machine once per process (`yardsticks()`: pgbench's single-row
insert rate and a fixed Python loop, see yardsticks.py), prints it in its header, and quotes its
main figures as ratios to it (`rate()`, `cpu()`), so that runs on different machines compare.
`--json PATH` (`add_output_arguments`) also writes the yardsticks and those figures as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.bench import yardsticks as yardsticks_module
from tests.bench.yardsticks import Yardsticks

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def bench_database_url(suffix: str = "bench") -> str:
    base = os.environ.get("DATABASE_URL", "postgres://localhost:5432/supportdesk")
    parts = urlsplit(base)
    name = parts.path.lstrip("/") or "supportdesk"
    return urlunsplit(parts._replace(path=f"/{name}_{suffix}"))


def bench_env(*, database: str = "bench", **extra: str) -> dict[str, str]:
    """The environment for a benchmark's processes; `database` is the suffix of its database."""
    env = dict(os.environ)
    env.update(dict(
        DATABASE_URL=bench_database_url(database),
        DEBUG="false",
        LOG_LEVEL="WARNING",
        # Production settings (DEBUG off) refuse the development secrets: the bench brings its own,
        # and speaks plain HTTP to its local server.
        SECRET_KEY="bench-only-secret-key-not-for-production-use-0123456789",
        OMS_WEBHOOK_SECRET="bench-only-oms-webhook-secret",
        WIDGET_IDENTITY_SECRET="bench-only-widget-identity-secret-0123456789",
        OMS_API_TOKEN="bench-only-oms-api-token",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    ), **extra)
    return env


def profile_django_setup(*, database: str, database_url: str = "", queue: str, **extra: str) -> None:
    """Django set up in this process for a profiler (tests.bench.*_profile): the benchmark's
    database (or `database_url`), emptied and migrated; Celery eager, so the tasks a commit
    asks for run here; one connection throughout, so its PostgreSQL backend's CPU can be read."""
    env = bench_env(database=database, CELERY_TASK_ALWAYS_EAGER="true", DATABASE_POOL="false",
                    CELERY_TASK_DEFAULT_QUEUE=f"{queue}-{uuid.uuid4().hex[:6]}", **extra)
    if database_url:
        env["DATABASE_URL"] = database_url
    _django_setup(env)


def test_client_django_setup(*, database: str) -> None:
    """Django set up in this process for requests through its test client (tests.bench.timeline,
    tests.bench.helpcenter): the benchmark's database, created if need be and migrated."""
    env = bench_env(database=database)
    env["ALLOWED_HOSTS"] = "testserver"  # Django's test client, in this process
    _django_setup(env)


def _django_setup(env: dict[str, str]) -> None:
    prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import warnings

    import django

    warnings.filterwarnings("ignore", "No directory at")  # whitenoise: no collectstatic for a bench
    django.setup()


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def prepare_database(env: dict[str, str]) -> None:
    step("preparing the benchmark database")
    manage("preflight", "--create-database", env=env)
    manage("migrate", "--noinput", "-v0", env=env)


def insert_select_sql(model: Any, expressions: dict[str, str], *, connection: Any,
                      source: str) -> tuple[str, list]:
    """`INSERT INTO <model's table> (...) SELECT <expressions> FROM <source>` and its parameters:
    every concrete column in the model's order, `expressions[field name]` where given (the primary
    key only then), else NULL where the field may be empty, else the field's default as a
    parameter. The expressions are SQL without parameters (a `%` in them is escaped here); the
    source may hold `%s` placeholders, whose values follow the returned ones. So a generator
    keeps up with the model's columns as they change."""
    meta = model._meta
    columns, values, params = [], [], []
    for field in meta.concrete_fields:
        if field.primary_key and field.name not in expressions:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in expressions:
            values.append(expressions[field.name].replace("%", "%%"))
        elif field.null:
            values.append("NULL")
        else:
            values.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({', '.join(columns)}) "
           f"SELECT {', '.join(values)} FROM {source}")
    return sql, params


def connect(database: str = "bench") -> psycopg.Connection:
    parts = urlsplit(bench_database_url(database))
    return psycopg.connect(
        host=parts.hostname or "localhost", port=parts.port or 5432,
        user=parts.username or None, password=parts.password or None,
        dbname=parts.path.lstrip("/"), autocommit=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def processes(commands: Sequence[Sequence[str]], *, env: dict[str, str]) -> Iterator[list[int]]:
    """Start long-running processes; stop them (and their children) however the block ends.
    The block gets their process ids, in the commands' order."""
    log = tempfile.NamedTemporaryFile("w+", prefix="supportdesk-bench-", suffix=".log",
                                      delete=False)
    started = [
        subprocess.Popen(list(command), cwd=ROOT, env=env, start_new_session=True,
                         stdout=log, stderr=subprocess.STDOUT)
        for command in commands
    ]
    try:
        yield [process.pid for process in started]
    except BaseException:
        print(f"The servers' log is in {log.name}", file=sys.stderr)
        raise
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def wait_for_port(port: int, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"The web server did not start on port {port} within {timeout:.0f} s.")


def step(message: str) -> None:
    print(f"-- {message}", flush=True)


def percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def describe_latencies(latencies_ms: Sequence[float]) -> str:
    return (f"p50 {percentile(latencies_ms, 0.50):.1f} ms, p99 {percentile(latencies_ms, 0.99):.1f}"
            f" ms, mean {statistics.fmean(latencies_ms):.1f} ms")


def machine_line() -> str:
    return f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}"


# --- CPU meters (from /proc) -------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process; 0 for one that is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores): all but idle and iowait."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS


# --- yardsticks and the figures quoted against them ---------------------------------------------

_figures: list[dict[str, object]] = []


@functools.cache
def yardsticks() -> Yardsticks:
    """The machine's yardsticks, measured once per process (before the benchmark's own load)."""
    step(f"measuring the machine: pgbench single-row inserts for {yardsticks_module.PGBENCH_SECONDS} s, "
         "then the Python loop")
    busy_before, began = machine_busy_seconds(), time.monotonic()
    time.sleep(1)
    busy = (machine_busy_seconds() - busy_before) / (time.monotonic() - began)
    measured = yardsticks_module.measure(bench_database_url("yardstick"), busy_cores_before=busy)
    for line in measured.header():
        step(line)
    return measured


def yardstick_header(indent: str = "  ") -> None:
    for line in yardsticks().header():
        print(indent + line)


def rate(name: str, per_second: float, unit: str) -> str:
    """A rate beside its ratio to the insert yardstick, recorded for --json."""
    measured = yardsticks()
    _figures.append({"name": name, "value": per_second, "unit": unit,
                     "ratio_to_inserts": measured.rate_ratio(per_second)})
    return measured.rate(per_second, unit)


def cpu(name: str, cpu_ms: float, per: str) -> str:
    """A CPU cost per operation beside the Python-loop units it equals, recorded for --json."""
    measured = yardsticks()
    _figures.append({"name": name, "value": cpu_ms, "unit": f"CPU ms/{per}",
                     "python_loop_units": measured.cpu_units(cpu_ms)})
    return measured.cpu(cpu_ms, per)


def duration(name: str, milliseconds: float) -> str:
    """A request's wall time in process (mostly this process's CPU) as Python-loop units, recorded for --json."""
    measured = yardsticks()
    _figures.append({"name": name, "value": milliseconds, "unit": "ms",
                     "python_loop_units": measured.cpu_units(milliseconds)})
    return f"{milliseconds:.1f} ms = {measured.cpu_units(milliseconds):,.0f} Python-loop units"


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the yardsticks and the figures as JSON")


def json_write(args: argparse.Namespace, *, benchmark: str, consistent: bool) -> None:
    if not getattr(args, "json", None):
        return
    document = {"benchmark": benchmark, "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
                "yardsticks": yardsticks().as_dict(), "figures": _figures, "consistent": consistent,
                "arguments": {key: value for key, value in vars(args).items() if key != "json"}}
    Path(args.json).write_text(json.dumps(document, indent=2, default=str) + "\n")
    step(f"figures written to {args.json}")


def table(rows: list[list[str]], indent: str = "  ") -> None:
    """Columns right-aligned under their headings (the first row), a rule under the headings."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [" ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    print(indent + lines[0])
    print(indent + "-" * len(lines[0]))
    for line in lines[1:]:
        print(indent + line)
