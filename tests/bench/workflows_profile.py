"""Where the worker's CPU goes per OMS event with the workflows benchmark's workflows and segments.

The workflows benchmark (tests/bench/workflows.py) compares the webhook's intake with and without
50 enabled workflows and four active segments (B/A): web, worker and PostgreSQL share the cores,
so what the worker spends per OMS event with workflows enabled is what B loses. This measures
that in one process, by CPU time (so other load on the machine does not disturb it):

In its own database (`<database>_bench_wfprof`, or --database-url), the benchmark's customers
(fewer of them), its four segments and its 50 workflows (`segments_create`, `workflows_create`);
then OMS events as tests.bench.oms_ingest builds them, stored as the webhook stores them (not
measured: that is the web's work) and processed here as the worker would: the OMS drain in
batches of 100, with Celery eager, so the tasks the commits ask for (the triggers' drain, the
runs' steps, the timers) run at once in this process, and every --tick events what the beat
asks for each second (the workflows' tick, the segments' membership drain, the surveys').

- A: --events events with no workflow enabled and no segment active (as the benchmark's A);
- B: as many with the 50 workflows enabled and the segments active: per OMS event, CPU in this
  process and in its PostgreSQL backend, statements (each a round trip; BEGIN and COMMIT not
  counted), the same split by phase (where the time is spent: the OMS batch, the triggers,
  the runs' steps, the segments, ...), then --profiled events more under cProfile (this
  thread's CPU time): the top functions. --statements N lists N more events' statements by
  phase, with how often each ran.

    python -m tests.bench.workflows_profile [--customers 20000] [--events 2000] [--top 30]
        [--statements 1000] [--profile-out PATH] [--database-url postgres://.../scratch]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tests.bench import harness, oms_ingest
from tests.bench import workflows as workflows_bench

DATABASE = "bench_wfprof"


class Statements:
    """An execute wrapper counting statements, charged to the phase running them."""

    def __init__(self, phases: Phases) -> None:
        self.phases = phases
        self.count = 0
        self.kept: Counter[tuple[str, str]] | None = None  # (phase, statement shortened): times

    def __call__(self, execute: Callable, statement: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        self.phases.statement()
        if self.kept is not None:
            phase = self.phases.stack[-1] if self.phases.stack else ""
            self.kept[(phase, _shape(statement))] += 1
        return execute(statement, params, many, context)


def _shape(statement: str) -> str:
    """A statement shortened, its savepoint names and lists of parameters folded, so repeats count as one."""
    statement = re.sub(r'"s\d+_x\d+"', '"s_x"', " ".join(statement.split()))
    return re.sub(r"%s(, %s)+", "%s, ...", statement)[:150]


@dataclass
class Spent:
    python: float = 0.0
    database: float = 0.0
    statements: int = 0
    calls: int = 0


@dataclass
class Phases:
    """CPU (this process, the PostgreSQL backend) and statements per phase, exclusive: a phase
    entered inside another is charged to itself, not to the outer one."""

    backend: int = 0
    stack: list[str] = field(default_factory=list)
    spent: dict[str, Spent] = field(default_factory=dict)
    mark: tuple[float, float] = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        return time.process_time(), harness.process_cpu_seconds(self.backend)

    def _charge(self) -> None:
        now = self._now()
        if self.stack:
            spent = self.spent.setdefault(self.stack[-1], Spent())
            spent.python += now[0] - self.mark[0]
            spent.database += now[1] - self.mark[1]
        self.mark = now

    def enter(self, name: str) -> None:
        self._charge()
        self.stack.append(name)
        self.spent.setdefault(name, Spent()).calls += 1

    def leave(self) -> None:
        self._charge()
        self.stack.pop()

    def statement(self) -> None:
        if self.stack:
            self.spent.setdefault(self.stack[-1], Spent()).statements += 1

    def wrap(self, module: Any, attribute: str, name: str) -> None:
        """Charge calls of `module.attribute` (looked up by its callers at call time) to `name`."""
        original = getattr(module, attribute)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.enter(name)
            try:
                return original(*args, **kwargs)
            finally:
                self.leave()

        setattr(module, attribute, wrapped)

    def reset(self) -> None:
        self.spent = {}


def phases_install(phases: Phases) -> None:
    from integrations import services as oms_services
    from workflows.segments import services as segment_services
    from workflows.services import batch, runs, triggers

    phases.wrap(oms_services, "_process_together", "OMS batch applied (mirror_batch)")
    phases.wrap(triggers, "triggers_drain", "triggers (events to runs and timers)")
    phases.wrap(triggers, "timers_fire", "timers fired")
    phases.wrap(runs, "runs_advance_now", "runs' steps, the rest (runs_advance_now)")
    phases.wrap(batch, "runs_advance_batch", "runs' steps set-based (runs_advance_batch)")
    phases.wrap(runs, "run_advance", "runs' steps one by one (run_advance)")
    phases.wrap(segment_services, "segments_evaluate", "segments evaluated")


def events_store(requests: list[bytes]) -> None:
    """Stored pending, as the webhook stores them (its own cost is not the worker's)."""
    from django.db import transaction

    from integrations import services
    from integrations.oms import schema

    with transaction.atomic():
        for body in requests:
            services._store(schema.parse_event(body), body)


def events_process(count: int, *, tick: int, phases: Phases) -> None:
    """The stored events processed by the worker's services, what the beat asks for every
    `tick` events (about a second of the benchmark's intake) in between."""
    from integrations import services
    from workflows import tasks
    from workflows.segments import services as segment_services
    from workflows.surveys import tasks as survey_tasks

    done = 0
    while done < count:
        phases.enter("OMS drain (claim, mark processed, back-pressure)")
        try:
            handled = services.oms_events_drain(batch_size=100, max_events=min(tick, count - done))
        finally:
            phases.leave()
        phases.enter("beat: workflows' tick, segments' and surveys' drains")
        try:
            tasks.workflows_tick()
            segment_services.membership_drain()
            survey_tasks.surveys_on_resolutions()
        finally:
            phases.leave()
        done += handled
        if not handled:
            break


def world(customers: int, run: str) -> dict[str, int]:
    workflows_bench.contacts_generate(customers)
    workflows_bench.world_reset()
    segments = workflows_bench.segments_create()
    workflow_ids = workflows_bench.workflows_create(run, segments)
    workflows_bench.segments_activate(False)
    return workflow_ids


def measure(name: str, requests: list[bytes], *, tick: int, phases: Phases, statements: Statements) -> dict:
    from django.db import connection

    events_store(requests)
    phases.reset()
    count_before = statements.count
    began = (time.process_time(), harness.process_cpu_seconds(phases.backend))
    wall = time.monotonic()
    with connection.execute_wrapper(statements):
        events_process(len(requests), tick=tick, phases=phases)
    ended = (time.process_time(), harness.process_cpu_seconds(phases.backend))
    events = len(requests)
    return {"name": name, "events": events, "python_ms": (ended[0] - began[0]) * 1000 / events,
            "database_ms": (ended[1] - began[1]) * 1000 / events,
            "statements": (statements.count - count_before) / events,
            "wall_ms": (time.monotonic() - wall) * 1000 / events,
            "phases": {name: replace(spent) for name, spent in phases.spent.items()}}


def report(result: dict) -> None:
    events = result["events"]
    print(f"  {result['name']}: {events:,} OMS events; per event: "
          f"{harness.cpu(result['name'] + ' Python', result['python_ms'], 'OMS event')} in Python, "
          f"{harness.cpu(result['name'] + ' PostgreSQL', result['database_ms'], 'OMS event')} in PostgreSQL, "
          f"{result['statements']:.2f} statements ({result['wall_ms']:.2f} ms wall)")
    phases = sorted(result["phases"].items(), key=lambda item: -(item[1].python + item[1].database))
    if not phases:
        return
    rows = [["   phase (exclusive)", "calls", "Python ms/event", "PostgreSQL ms/event", "statements/event"]]
    for name, spent in phases:
        rows.append([f"   {name}", f"{spent.calls:,}", f"{spent.python * 1000 / events:.3f}",
                     f"{spent.database * 1000 / events:.3f}", f"{spent.statements / events:.2f}"])
    harness.table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000, help="customers (the largest segment's size)")
    parser.add_argument("--events", type=int, default=2_000, help="OMS events measured, in A and in B")
    parser.add_argument("--warm", type=int, default=400, help="OMS events before each measurement")
    parser.add_argument("--profiled", type=int, default=1_000, help="OMS events under cProfile (B)")
    parser.add_argument("--tick", type=int, default=1_000, help="OMS events between two of the beat's rounds")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--focus", default="services|engine|outbox|events|triggers|runs|batch|subjects|"
                        "attributes|conditions|interest|mirror|sql",
                        help="a regular expression of functions also listed by cumulative time ('' for none)")
    parser.add_argument("--statements", type=int, default=0,
                        help="OMS events (B) whose statements are listed, by phase (0: none)")
    parser.add_argument("--profile-out", default="", help="also write the cProfile stats to this file")
    parser.add_argument("--no-baseline", action="store_true", help="skip A (no workflows)")
    parser.add_argument("--database-url", default="",
                        help=f"the database to use (emptied!); default <DATABASE_URL's name>_{DATABASE}")
    args = parser.parse_args()
    if args.events < 4 or args.customers < 20:
        parser.error("--events 4+, --customers 20+")
    harness.yardsticks()
    harness.profile_django_setup(database=DATABASE, database_url=args.database_url, queue="bench-wfprof",
                                 OMS_WEBHOOK_SECRET=workflows_bench.SECRET, OMS_CLIENT="fake")
    from django.db import connection

    run = uuid.uuid4().hex[:6]
    workflow_ids = world(args.customers, run)
    connection.ensure_connection()
    phases = Phases(backend=connection.connection.info.backend_pid)
    phases_install(phases)
    statements = Statements(phases)
    # Events about the benchmark's customers; each build has orders of its own (a fresh run id).
    batches = iter(range(100, 1_000))

    def events(count: int) -> list[bytes]:
        return oms_ingest.build_requests(count, args.customers, seed=next(batches))[0]

    results = []
    if not args.no_baseline:
        harness.step(f"A: {args.warm:,} events to warm, then {args.events:,} measured, no workflow enabled")
        measure("warm", events(args.warm), tick=args.tick, phases=phases, statements=statements)
        results.append(measure("A, no workflows", events(args.events), tick=args.tick, phases=phases,
                               statements=statements))
    workflows_bench.workflows_enable(workflow_ids)
    workflows_bench.segments_activate(True)
    harness.step(f"B: {args.warm:,} events to warm, then {args.events:,} measured, {len(workflow_ids)} workflows "
                 "enabled, 4 segments active")
    measure("warm", events(args.warm), tick=args.tick, phases=phases, statements=statements)
    results.append(measure("B, 50 workflows", events(args.events), tick=args.tick, phases=phases,
                           statements=statements))
    kept = None
    if args.statements:
        harness.step(f"B's statements: {args.statements:,} events")
        requests = events(args.statements)
        events_store(requests)
        statements.kept = Counter()
        with connection.execute_wrapper(statements):
            events_process(len(requests), tick=args.tick, phases=phases)
        kept, statements.kept = statements.kept, None
    harness.step(f"B under cProfile: {args.profiled:,} events")
    profiled = events(args.profiled)
    events_store(profiled)
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    events_process(len(profiled), tick=args.tick, phases=phases)
    profile.disable()
    if args.profile_out:
        profile.dump_stats(args.profile_out)
    runs = workflows_bench.values_pairs("SELECT status, count(*) FROM workflows_workflowrun GROUP BY status", [])
    failed = workflows_bench.scalar("SELECT count(*) FROM integrations_omsevent WHERE status <> 'processed'")
    parked = workflows_bench.scalar("SELECT count(*) FROM supportdesk_outboxentry WHERE parked_at IS NOT NULL")
    left = workflows_bench.values_pairs("SELECT consumer, count(*) FROM supportdesk_outboxentry GROUP BY consumer",
                                        [])

    print()
    print(f"Workflows: the worker's CPU per OMS event, {args.customers:,} customers, 4 segments, "
          f"{len(workflow_ids)} workflows (40 on events, 8 timers, 2 schedules), one process")
    harness.yardstick_header()
    for result in results:
        report(result)
    if len(results) == 2:
        a, b = results
        print(f"  B - A per event: {b['python_ms'] - a['python_ms']:.2f} ms Python, "
              f"{b['database_ms'] - a['database_ms']:.2f} ms PostgreSQL, "
              f"{b['statements'] - a['statements']:.2f} statements")
    print(f"  runs by status {dict(runs)}; OMS events not processed: {failed}; parked outbox entries: {parked}; "
          f"outbox entries left: {dict(left)}")
    if kept:
        print(f"  B's statements over {args.statements:,} events, by phase, the most frequent first:")
        for (phase, statement), times in sorted(kept.items(), key=lambda item: (item[0][0], -item[1])):
            print(f"    {times:6,}  {phase[:28]:28}  {statement}")
    print(f"  B's CPU in this thread under cProfile (which inflates it), {args.profiled:,} events, top {args.top} "
          f"by {args.sort}:")
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).strip_dirs().sort_stats(args.sort)
    stats.print_stats(args.top)
    if args.focus:  # our own code's functions by cumulative time: the phases of the work
        stats.sort_stats("cumulative").print_stats(args.focus, args.top)
    print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
