"""Yardsticks: two measures of the machine itself, taken beside every benchmark so that its
figures compare between machines.

- PostgreSQL single-row inserts per second: `pgbench -n -c 1 -T <seconds> -f <one INSERT>` against a
  scratch database created and dropped here. Every insert is its own transaction, so this is mostly
  the machine's commit (WAL flush) rate, which bounds everything the desk writes. Where pgbench is
  missing the same loop runs through psycopg, and every figure says so.
- Python-loop units per second: a fixed, deterministic pure-Python workload of dict and str work
  (what request handling, JSON and the ORM spend their time on), timed in CPU seconds of this
  process (best of a few runs), so a busy neighbour slows it less than it would a wall clock.

A rate is then quoted as a multiple of the insert rate ("938 msg/s = 0.42 x pgbench inserts/s")
and a CPU cost per operation as the number of loop units the same CPU time runs ("CPU 1.80 ms/msg
= 2,300 Python-loop units"). The parsing and the ratios are pure functions, tested in
tests/bench/test_yardsticks.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

PGBENCH_SECONDS = 5
PGBENCH_SOURCE = "pgbench"
PSYCOPG_SOURCE = "psycopg loop (pgbench missing)"
INSERT = "INSERT INTO yardstick (body) VALUES ('a chat message of an ordinary length, about sixty characters');"
TABLE = ("CREATE TABLE yardstick (id bigserial PRIMARY KEY, body text NOT NULL,"
         " created_at timestamptz NOT NULL DEFAULT now())")
PYTHON_LOOP_ITERATIONS = 50_000
PYTHON_LOOP_REPEATS = 5

# pgbench 14+ prints "tps = 1234.5 (without initial connection time)"; older ones print an
# "including connections establishing" line and an "excluding ..." one. The figure without the
# connection's cost is the one wanted; the first tps line is the fallback.
_TPS = re.compile(r"^tps = ([0-9.]+) \((?P<how>[^)]*)\)", re.MULTILINE)


@dataclass(frozen=True)
class Yardsticks:
    inserts_per_second: float
    insert_source: str  # PGBENCH_SOURCE, or PSYCOPG_SOURCE where pgbench is missing
    python_units_per_second: float
    # Cores' worth of CPU others used over a second just before: on a shared machine the
    # yardsticks (the insert rate most) move with it, and so do the ratios.
    busy_cores_before: float = 0.0

    @property
    def insert_label(self) -> str:
        return "pgbench inserts/s" if self.insert_source == PGBENCH_SOURCE else "psycopg-loop inserts/s"

    def rate_ratio(self, per_second: float) -> float:
        return per_second / self.inserts_per_second

    def cpu_units(self, cpu_ms: float) -> float:
        """Python-loop units this machine runs in `cpu_ms` milliseconds of CPU."""
        return cpu_ms * self.python_units_per_second / 1000

    def rate(self, per_second: float, unit: str) -> str:
        """'938 msg/s = 0.42 x pgbench inserts/s'"""
        return f"{per_second:,.0f} {unit} = {self.rate_ratio(per_second):.2f} x {self.insert_label}"

    def cpu(self, cpu_ms: float, per: str) -> str:
        """'CPU 1.80 ms/msg = 2,300 Python-loop units'"""
        return f"CPU {cpu_ms:.2f} ms/{per} = {self.cpu_units(cpu_ms):,.0f} Python-loop units"

    def header(self) -> list[str]:
        lines = [f"yardsticks: PostgreSQL single-row inserts {self.inserts_per_second:,.0f}/s "
                 f"({self.insert_source}); Python loop {self.python_units_per_second:,.0f} units/s "
                 f"(1 ms of CPU = {self.cpu_units(1.0):,.0f} units)"]
        if self.busy_cores_before >= 0.5:
            lines.append("WARNING: the machine was busy with other work as it was measured "
                         f"({self.busy_cores_before:.1f} of {os.cpu_count()} cores): the yardsticks, and so the "
                         "ratios, move with that load")
        if self.insert_source != PGBENCH_SOURCE:
            lines.append("WARNING: pgbench is missing on this machine: the insert rate comes from a psycopg loop, "
                         "which is slower than pgbench; its ratios do not compare with pgbench's")
        return lines

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def pgbench_tps(output: str) -> float:
    """The transactions per second pgbench printed, without the connection's cost where it says so."""
    found = [(float(match.group(1)), match.group("how")) for match in _TPS.finditer(output)]
    if not found:
        raise ValueError(f"no 'tps = ...' line in pgbench's output: {output[-500:]!r}")
    for tps, how in found:
        if how.startswith(("without", "excluding")):
            return tps
    return found[0][0]


def python_loop_unit(number: int) -> int:
    """One unit of the fixed workload: build a small record, format it, parse it back."""
    record = {"id": number, "kind": "chat.message", "body": f"message {number} from a customer",
              "author": "Customer", "sequence": number % 97}
    text = ";".join(f"{key}={value}" for key, value in record.items())
    parsed = dict(part.split("=", 1) for part in text.split(";"))
    return len(parsed["body"].upper()) + int(parsed["sequence"])


def python_units_per_second(*, iterations: int = PYTHON_LOOP_ITERATIONS,
                            repeats: int = PYTHON_LOOP_REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        began = time.process_time()
        checksum = 0
        for number in range(iterations):
            checksum += python_loop_unit(number)
        best = min(best, time.process_time() - began)
        if checksum <= 0:  # the workload's result is used, so nothing can skip it
            raise AssertionError("the Python loop computed nothing")
    return iterations / max(best, 1e-9)


def _connection_arguments(database_url: str) -> dict[str, str | int | None]:
    parts = urlsplit(database_url)
    return {"host": parts.hostname or "localhost", "port": parts.port or 5432,
            "user": parts.username or None, "password": parts.password or None}


@contextlib.contextmanager
def _scratch_database(database_url: str):
    """A database of its own for the insert loop, created here and dropped however the block ends."""
    import psycopg
    from psycopg import sql

    arguments = _connection_arguments(database_url)
    name = f"{urlsplit(database_url).path.lstrip('/') or 'supportdesk_yardstick'}_{os.getpid()}"
    with psycopg.connect(**arguments, dbname="postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            with psycopg.connect(**arguments, dbname=name, autocommit=True) as connection:
                connection.execute(TABLE)
            yield name, arguments
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _pgbench(executable: str, name: str, arguments: dict, seconds: int) -> float:
    with tempfile.NamedTemporaryFile("w", prefix="yardstick-", suffix=".sql") as script:
        script.write(INSERT + "\n")
        script.flush()
        env = dict(os.environ)
        if arguments["password"]:
            env["PGPASSWORD"] = str(arguments["password"])
        command = [executable, "-n", "-c", "1", "-T", str(seconds), "-f", script.name,
                   "-h", str(arguments["host"]), "-p", str(arguments["port"])]
        if arguments["user"]:
            command += ["-U", str(arguments["user"])]
        done = subprocess.run([*command, name], env=env, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode:
        raise SystemExit(f"pgbench failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return pgbench_tps(done.stdout)


def _psycopg_loop(name: str, arguments: dict, seconds: int) -> float:
    import psycopg

    with psycopg.connect(**arguments, dbname=name, autocommit=True) as connection:
        count, began = 0, time.monotonic()
        while time.monotonic() - began < seconds:
            connection.execute(INSERT)
            count += 1
        return count / (time.monotonic() - began)


def measure(database_url: str, *, seconds: int = PGBENCH_SECONDS, busy_cores_before: float = 0.0) -> Yardsticks:
    executable = shutil.which("pgbench") or ("/usr/bin/pgbench" if os.path.exists("/usr/bin/pgbench") else None)
    with _scratch_database(database_url) as (name, arguments):
        if executable:
            inserts, source = _pgbench(executable, name, arguments, seconds), PGBENCH_SOURCE
        else:
            print("WARNING: pgbench is not installed (apt-get install postgresql-client, or the postgresql "
                  "package of this system): measuring the insert rate with a psycopg loop instead",
                  file=sys.stderr, flush=True)
            inserts, source = _psycopg_loop(name, arguments, seconds), PSYCOPG_SOURCE
    return Yardsticks(inserts_per_second=inserts, insert_source=source,
                      python_units_per_second=python_units_per_second(), busy_cores_before=busy_cores_before)
