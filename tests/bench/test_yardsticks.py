"""The yardsticks' parsing and ratios (pure functions: no database, no timing)."""

from __future__ import annotations

import argparse
import json

import pytest

from tests.bench import harness, yardsticks
from tests.bench.yardsticks import PGBENCH_SOURCE, PSYCOPG_SOURCE, Yardsticks

PGBENCH_15 = """\
transaction type: insert.sql
scaling factor: 1
query mode: simple
number of clients: 1
number of threads: 1
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 4690
number of failed transactions: 0 (0.000%)
latency average = 1.066 ms
initial connection time = 3.410 ms
tps = 938.102337 (without initial connection time)
"""

PGBENCH_13 = """\
number of transactions actually processed: 4000
latency average = 1.250 ms
tps = 790.500000 (including connections establishing)
tps = 800.250000 (excluding connections establishing)
"""

MACHINE = Yardsticks(inserts_per_second=2_000.0, insert_source=PGBENCH_SOURCE, python_units_per_second=1_250_000.0)


def test_pgbench_tps_reads_the_figure_without_the_connection_time():
    assert yardsticks.pgbench_tps(PGBENCH_15) == pytest.approx(938.102337)


def test_pgbench_tps_prefers_the_excluding_line_of_older_versions():
    assert yardsticks.pgbench_tps(PGBENCH_13) == pytest.approx(800.25)


def test_pgbench_tps_falls_back_to_the_only_tps_line():
    assert yardsticks.pgbench_tps("tps = 12.5 (something else)\n") == pytest.approx(12.5)


def test_pgbench_tps_refuses_output_without_a_figure():
    with pytest.raises(ValueError, match="no 'tps"):
        yardsticks.pgbench_tps("pgbench: error: connection to server failed\n")


def test_a_rate_is_quoted_as_a_multiple_of_the_insert_rate():
    assert MACHINE.rate_ratio(938.0) == pytest.approx(0.469)
    assert MACHINE.rate(938.0, "msg/s") == "938 msg/s = 0.47 x pgbench inserts/s"


def test_a_cpu_cost_is_quoted_in_python_loop_units():
    assert MACHINE.cpu_units(1.8) == pytest.approx(2_250.0)
    assert MACHINE.cpu(1.8, "msg") == "CPU 1.80 ms/msg = 2,250 Python-loop units"


def test_the_fallback_insert_rate_is_labelled_and_warned_about():
    fallback = Yardsticks(inserts_per_second=500.0, insert_source=PSYCOPG_SOURCE, python_units_per_second=1.0)
    assert fallback.rate(250.0, "events/s") == "250 events/s = 0.50 x psycopg-loop inserts/s"
    header = fallback.header()
    assert PSYCOPG_SOURCE in header[0]
    assert header[1].startswith("WARNING: pgbench is missing")
    assert len(MACHINE.header()) == 1


def test_a_machine_busy_with_other_work_is_said_to_be():
    busy = Yardsticks(inserts_per_second=500.0, insert_source=PGBENCH_SOURCE, python_units_per_second=1.0,
                      busy_cores_before=1.4)
    assert busy.header()[1].startswith("WARNING: the machine was busy with other work as it was measured (1.4 of")
    assert len(Yardsticks(inserts_per_second=500.0, insert_source=PGBENCH_SOURCE, python_units_per_second=1.0,
                          busy_cores_before=0.2).header()) == 1


def test_the_python_loop_unit_is_deterministic():
    assert [yardsticks.python_loop_unit(n) for n in (0, 1, 500)] == [
        yardsticks.python_loop_unit(n) for n in (0, 1, 500)]
    assert yardsticks.python_loop_unit(96) - yardsticks.python_loop_unit(95) == 1  # sequence 96 vs 95
    assert yardsticks.python_units_per_second(iterations=50, repeats=1) > 0


def test_json_output_holds_the_yardsticks_and_the_figures_quoted(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "yardsticks", lambda: MACHINE)
    monkeypatch.setattr(harness, "_figures", [])
    harness.rate("flat out", 938.0, "msg/s")
    harness.cpu("servers", 1.8, "msg")
    path = tmp_path / "out.json"
    harness.json_write(argparse.Namespace(json=str(path), quick=True), benchmark="livechat", consistent=True)
    document = json.loads(path.read_text())
    assert document["yardsticks"] == {"inserts_per_second": 2_000.0, "insert_source": "pgbench",
                                      "python_units_per_second": 1_250_000.0, "busy_cores_before": 0.0}
    assert document["arguments"] == {"quick": True}
    assert [(f["name"], f["unit"]) for f in document["figures"]] == [("flat out", "msg/s"),
                                                                     ("servers", "CPU ms/msg")]
    assert document["figures"][0]["ratio_to_inserts"] == pytest.approx(0.469)
    assert document["figures"][1]["python_loop_units"] == pytest.approx(2_250.0)
