"""The routing benchmark's measured runs (tests/bench/routing.py): forked worker processes,
each with its own database connection, taking arrivals from one shared schedule, and the
CPU they and their PostgreSQL backends used."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue as queue_module
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.bench import harness

# --- the measured runs: worker processes on a shared schedule ---------------------------------


@dataclass
class Run:
    """One paced or flat-out run: per call, latency from the scheduled arrival (paced) or from
    its start (flat out) to the return, the service time alone, and what came back."""

    latencies_ms: list[float] = field(default_factory=list)
    service_ms: list[float] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)
    seconds: float = 0.0  # first scheduled arrival to the last return
    errors: Counter = field(default_factory=Counter)
    # CPU seconds over the run's window: the whole machine's, and ours (the workers and their
    # database backends); the rest is other work on the machine (and Redis, PostgreSQL's own).
    window_seconds: float = 0.0
    machine_cpu: float = 0.0
    python_cpu: float = 0.0
    database_cpu: float = 0.0

    @property
    def our_cpu(self) -> float:
        return self.python_cpu + self.database_cpu

    def extend(self, other: Run) -> None:
        self.latencies_ms += other.latencies_ms
        self.service_ms += other.service_ms
        self.outcomes += other.outcomes
        self.seconds += other.seconds
        self.errors.update(other.errors)
        self.window_seconds += other.window_seconds
        self.machine_cpu += other.machine_cpu
        self.python_cpu += other.python_cpu
        self.database_cpu += other.database_cpu

    @property
    def other_cores(self) -> float:
        """Cores' worth of CPU that other work used while this ran."""
        return max(self.machine_cpu - self.our_cpu, 0.0) / self.window_seconds if self.window_seconds else 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else float("nan")


def _enqueue(job: tuple[int, str, str]) -> tuple[int, str, int | None]:
    from routing import services

    conversation_id, language, kind = job
    item = services.work_item_enqueue(conversation_id=conversation_id, channel="chat",
                                      attributes={"language": language, "contact_kind": kind})
    return item.pk, item.state, item.agent_id


def _complete(item_id: int) -> str:
    from routing import services

    return services.work_item_complete(item_id=item_id).state


class _Timer:
    def __init__(self) -> None:
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, statement, params, many, context):
        began = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - began


def _probe(job: tuple[int, str, str]) -> tuple:
    """An enqueue, with the statements it sends and the time in them and in the push."""
    from django.db import connection

    from supportdesk import push as shared_push

    queries, pushes = _Timer(), _Timer()
    # What the caller pays for a push: handing it to the process's sender (which sends it
    # to Redis on its own thread).
    submit = shared_push._sender.submit
    shared_push._sender.submit = lambda group, message: pushes(lambda *_: submit(group, message), None,
                                                               None, False, None)
    try:
        with connection.execute_wrapper(queries):
            item_id, state, agent_id = _enqueue(job)
    finally:
        shared_push._sender.submit = submit
    return item_id, state, agent_id, queries.count, queries.seconds * 1000, pushes.seconds * 1000


CALLS: dict[str, Callable[[Any], Any]] = {"enqueue": _enqueue, "complete": _complete, "probe": _probe}


def _worker(call: str, jobs: Sequence, counter, t0: float, interval: float, results) -> None:
    """In a forked process: take the next arrival, wait for its time, run it, record it."""
    from django.db import connection, connections

    function = CALLS[call]
    measured: list[tuple] = []
    database_cpu = 0.0
    try:
        connection.ensure_connection()  # its own connection, opened before the first arrival
        while True:
            with counter.get_lock():
                index = counter.value
                counter.value += 1
            if index >= len(jobs):
                break
            scheduled = t0 + index * interval
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.monotonic()
            try:
                outcome, error = function(jobs[index]), None
            except Exception as exc:  # counted and reported; the run goes on
                outcome, error = None, f"{type(exc).__name__}: {exc}"[:200]
            ended = time.monotonic()
            measured.append((scheduled if interval else began, began, ended, outcome, error))
    finally:
        with contextlib.suppress(Exception):
            database_cpu = harness.process_cpu_seconds(connection.connection.info.backend_pid)
        times = os.times()
        results.put((measured, times.user + times.system, database_cpu))
        connections.close_all()


def run(call: str, jobs: Sequence, *, workers: int, rate: float | None) -> Run:
    """Run `call` over `jobs` in `workers` forked processes, arrivals paced at `rate` per second
    (None: flat out, each worker starting its next call as soon as the last returned)."""
    from django.db import connections

    connections.close_all()  # no connection may cross the fork
    window_began, machine_began = time.monotonic(), harness.machine_busy_seconds()
    context = multiprocessing.get_context("fork")
    counter = context.Value("l", 0)
    results = context.Queue()
    t0 = time.monotonic() + 0.5  # time for the workers to start and connect
    interval = 1.0 / rate if rate else 0.0
    processes = [context.Process(target=_worker, args=(call, jobs, counter, t0, interval, results))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    rows: list[tuple] = []
    python_cpu = database_cpu = 0.0
    for _ in processes:
        try:
            measured, python, database = results.get(timeout=900)
        except queue_module.Empty:
            raise SystemExit("A benchmark worker did not report within 15 minutes.") from None
        rows += measured
        python_cpu += python
        database_cpu += database
    for process in processes:
        process.join()
    outcome = Run(window_seconds=time.monotonic() - window_began,
                  machine_cpu=harness.machine_busy_seconds() - machine_began, python_cpu=python_cpu,
                  database_cpu=database_cpu)
    for *_, error in rows:
        if error:
            outcome.errors[error] += 1
    rows = [row for row in rows if not row[4]]
    outcome.latencies_ms = [(ended - scheduled) * 1000 for scheduled, _, ended, _, _ in rows]
    outcome.service_ms = [(ended - began) * 1000 for _, began, ended, _, _ in rows]
    outcome.outcomes = [row[3] for row in rows]
    outcome.seconds = max((row[2] for row in rows), default=t0) - t0
    return outcome
