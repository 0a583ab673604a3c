"""Routing: decision-and-claim latency and throughput of `work_item_enqueue`, and the agent side
(`work_item_complete`), with 500, 5,000 and 50,000 agents online and 10,000 items waiting.

Runs the routing services in-process against a scratch database of its own
(`<name>_bench_routing`, dropped and migrated afresh at each run), with PostgreSQL and Redis (the
pushes to agents' browsers) of this machine; no Celery beat. Per scale it truncates the routing
tables and sets up, in bulk:

- agents online (users with an unusable password, profiles with 1-3 of 13 languages, 1-3
  contact kinds, tier 1-3, a fifth with one skill, the default capacity: chat 3, messaging 3,
  email 5, voice 1) and their AgentSlot rows, written with COPY as `agent_slots_rebuild`
  computes them (checked against it on a sample);
- a queue per language (`chat.<lang>`; half longest idle, half most spare capacity) with the
  rule `chat.{language}`, and a `backlog` queue that requires the skill "backlog", which no
  agent holds, behind an earlier rule on `custom.backlog`;
- the background load: 10,000 waiting chat items in the backlog queue, across the same
  languages and contact kinds as the measured traffic, so they sit in the same WorkItem
  index ranges the matching queries read (one enqueued through the service, the rest
  copied from it in bulk). Then VACUUM ANALYZE.

Then, with worker processes, each with its own database connection, taking the next arrival
from one shared schedule:

- offered at --rate (100 new items/s): `work_item_enqueue` of chat items in random languages
  and contact kinds, latency from the scheduled arrival to the return (so queueing behind busy
  workers counts), in rounds of --batch, each followed by `work_item_complete` of its items at
  the same rate (the agent side: frees the capacity and looks for the best waiting item the
  agent may take), so agents never run out of room;
- flat out (no pacing), for the throughput;
- one at a time, timing each decision's SQL statements and its push, for where the time goes.

The cost per decision is CPU: the workers' and their PostgreSQL backends', per decision, which
other work on this shared machine changes least; how much CPU other work took meanwhile is
reported beside the latencies ("others"). Exits non-zero only on an inconsistency (an agent
over capacity, an arrival not placed, an error, slots not freed, the backlog touched); the
targets are reported.

    python -m tests.bench.routing [--scales 500,5000,50000] [--decisions 2000] [--rate 100]
                                  [--workers 4] [--waiting 10000] [--explain]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import multiprocessing
import os
import queue as queue_module
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.bench import harness

DATABASE = "bench_routing"
LANGUAGES = ("en", "es", "ca", "it", "pt", "fr", "pl", "ro", "uk", "ka", "kk", "ky", "hr")
KIND_WEIGHTS = {"customer": 6, "courier": 3, "partner": 1}  # of the arriving items
SKILLS = ("refunds", "vip", "fraud")
BACKLOG_SKILL = "backlog"  # required by the backlog queue; no agent holds it
P99_TARGET_MS = 50.0
COST_RATIO_TARGET = 1.5
SEED = 3


# --- setup -------------------------------------------------------------------------------------


def database_recreate(env: dict[str, str]) -> None:
    """Drop the benchmark's own database, so that it is migrated from scratch by this checkout."""
    parts = urlsplit(env["DATABASE_URL"])
    name = parts.path.lstrip("/")
    if not name.endswith(f"_{DATABASE}"):
        raise SystemExit(f"Refusing to drop {name!r}: not a routing benchmark database.")
    with psycopg.connect(host=parts.hostname or "localhost", port=parts.port or 5432,
                         user=parts.username or None, password=parts.password or None,
                         dbname="postgres", autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def django_setup() -> None:
    # One persistent connection per worker process rather than a pool per process.
    env = harness.bench_env(database=DATABASE, DATABASE_POOL="false")
    database_recreate(env)
    harness.prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import django

    django.setup()


def tables() -> list[str]:
    from django.contrib.auth import get_user_model

    from routing.models import AgentProfile, AgentSlot, Queue, RoutingAudit, RoutingRule, WorkItem, WorkItemEvent

    return [model._meta.db_table for model in (AgentSlot, WorkItemEvent, WorkItem, AgentProfile, RoutingRule,
                                                Queue, RoutingAudit, get_user_model())]


def reset() -> None:
    """Empty the routing tables (and the users: the database is the benchmark's own)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables())} RESTART IDENTITY CASCADE")


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables():
            cursor.execute(f"VACUUM ANALYZE {table}")


def agents_create(count: int, rng: random.Random) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
    from django.utils import timezone

    from routing.models import CONTACT_KINDS, AgentProfile, Presence, default_capacity

    user_model = get_user_model()
    now = timezone.now()
    users = user_model.objects.bulk_create(
        [user_model(username=f"bench.agent.{number}", password=UNUSABLE_PASSWORD_PREFIX, date_joined=now)
         for number in range(count)], batch_size=2_000)
    profiles = [
        AgentProfile(
            user_id=user.pk, languages=rng.sample(LANGUAGES, rng.randint(1, 3)),
            contact_kinds=rng.sample(CONTACT_KINDS, rng.randint(1, 3)),
            skills=[rng.choice(SKILLS)] if rng.random() < 0.2 else [], tier=rng.randint(1, 3),
            capacity=default_capacity(), presence=Presence.ONLINE, presence_since=now,
            last_heartbeat_at=now,
        )
        for user in users
    ]
    return AgentProfile.objects.bulk_create(profiles, batch_size=2_000)


SLOT_COLUMNS = ("agent_id", "channel", "language", "contact_kind", "tier", "skills", "available",
                "spare_permille", "last_assigned_at")


def slot_rows(profile) -> list[tuple]:
    """What `routing.services.agent_slots_rebuild` writes for a profile with no held items."""
    from routing import services
    from routing.models import CHANNELS

    rows = []
    for channel in CHANNELS:
        if profile.capacity_for(channel) <= 0:
            continue
        available, spare = services._slot_state(profile, channel, 0)
        for language, kind in itertools.product(profile.languages, profile.contact_kinds):
            rows.append((profile.pk, channel, language, kind, profile.tier, list(profile.skills), available,
                         spare, profile.last_assigned_at))
    return rows


def slots_create(profiles: Sequence) -> int:
    from django.db import connection

    from routing.models import AgentSlot

    written = 0
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {AgentSlot._meta.db_table} ({', '.join(SLOT_COLUMNS)}) FROM STDIN") as copy:
        for profile in profiles:
            for row in slot_rows(profile):
                copy.write_row(row)
                written += 1
    return written


def slots_check(profiles: Sequence, rng: random.Random) -> None:
    """The bulk-written slots are what the service itself writes (on a sample, rolled back)."""
    from django.db import transaction

    from routing import services
    from routing.models import AgentSlot

    def current(ids: list[int]) -> set[tuple]:
        rows = AgentSlot.objects.filter(agent_id__in=ids).values_list(*SLOT_COLUMNS)
        return {tuple(tuple(value) if isinstance(value, list) else value for value in row) for row in rows}

    sample = rng.sample(list(profiles), min(25, len(profiles)))
    ids = [profile.pk for profile in sample]
    written = current(ids)
    with transaction.atomic():
        for profile in sample:
            services.agent_slots_rebuild(profile)
        rebuilt = current(ids)
        transaction.set_rollback(True)
    if written != rebuilt:
        raise SystemExit(f"The bulk-written slots differ from agent_slots_rebuild's: {len(written ^ rebuilt)}"
                         " rows differ. Update slot_rows() to follow routing.services.")


def queues_create() -> None:
    from routing.models import Queue, RoutingRule, Strategy

    Queue.objects.bulk_create(
        [Queue(key=f"chat.{language}", name=f"Chat {language}",
               strategy=Strategy.LONGEST_IDLE if number % 2 == 0 else Strategy.MOST_SPARE_CAPACITY)
         for number, language in enumerate(LANGUAGES)]
        + [Queue(key="backlog", name="Backlog", required_skills=[BACKLOG_SKILL])])
    RoutingRule.objects.create(name="backlog", position=10, queue_key="backlog",
                               condition={"attribute": "custom.backlog", "op": "eq", "value": True})
    RoutingRule.objects.create(name="chat by language", position=100, queue_key="chat.{language}",
                               condition={"attribute": "channel", "op": "eq", "value": "chat"})


def backlog_create(count: int, rng: random.Random) -> None:
    """`count` waiting chat items no online agent may take: one enqueued through the service
    (and checked to stay waiting), the rest copied from it with other languages, contact kinds
    and arrival times over the last hour."""
    from django.utils import timezone

    from routing import services
    from routing.models import CONTACT_KINDS, ItemState, WorkItem, WorkItemEvent

    template = services.work_item_enqueue(
        conversation_id=1, channel="chat",
        attributes={"language": LANGUAGES[0], "contact_kind": "customer", "custom.backlog": True})
    if template.state != ItemState.WAITING or template.required_skills != [BACKLOG_SKILL]:
        raise SystemExit(f"The backlog item did not stay waiting: {template} {template.required_skills}")
    now = timezone.now()
    items = []
    for number in range(2, count + 1):
        language, kind = rng.choice(LANGUAGES), rng.choice(CONTACT_KINDS)
        at = now - timedelta(seconds=rng.uniform(0, 3600))
        items.append(WorkItem(
            conversation_id=number, channel="chat",
            attributes={**template.attributes, "language": language, "contact_kind": kind},
            language=language, contact_kind=kind, queue_id=template.queue_id,
            queue_priority=template.queue_priority, priority=template.priority,
            required_skills=template.required_skills, optional_skills=template.optional_skills,
            min_agent_tier=template.min_agent_tier, rule=template.rule, enqueued_at=at, queued_at=at,
        ))
    items = WorkItem.objects.bulk_create(items, batch_size=2_000)
    detail = WorkItemEvent.objects.get(item_id=template.pk, kind="queued").detail
    WorkItemEvent.objects.bulk_create(
        [WorkItemEvent(item_id=item.pk, kind="queued", at=item.enqueued_at, queue_id=item.queue_id,
                       detail=detail) for item in items], batch_size=2_000)


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


# --- one scale -----------------------------------------------------------------------------------


@dataclass
class Scale:
    agents: int
    slots: int = 0
    waiting: int = 0
    setup_seconds: float = 0.0
    paced: Run = field(default_factory=Run)
    completes: Run = field(default_factory=Run)
    flat_out: Run = field(default_factory=Run)
    flat_out_completes: Run = field(default_factory=Run)
    probe: Run = field(default_factory=Run)
    unplaced: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def cost_ms(self) -> float:
        """CPU per decision (the workers and their PostgreSQL backends), over every measured
        decision: what other work on the machine changes least."""
        return cpu_per_call_ms(self.paced, self.flat_out)

    @property
    def complete_cost_ms(self) -> float:
        return cpu_per_call_ms(self.completes, self.flat_out_completes)


def cpu_per_call_ms(*runs: Run, part: str = "our_cpu") -> float:
    calls = sum(len(run.latencies_ms) for run in runs)
    return sum(getattr(run, part) for run in runs) * 1000 / calls if calls else float("nan")


def cpu_split(*runs: Run) -> str:
    """CPU per call as Python + PostgreSQL."""
    return (f"{cpu_per_call_ms(*runs, part='python_cpu'):.1f} + "
            f"{cpu_per_call_ms(*runs, part='database_cpu'):.1f} ms")


class Arrivals:
    """Chat items in random languages and contact kinds, each for a new conversation."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.conversations = itertools.count(1_000_000)

    def take(self, count: int) -> list[tuple[int, str, str]]:
        kinds, weights = zip(*KIND_WEIGHTS.items(), strict=True)
        return [(next(self.conversations), self.rng.choice(LANGUAGES), self.rng.choices(kinds, weights)[0])
                for _ in range(count)]


def setup(scale: Scale, args: argparse.Namespace) -> list:
    from routing.models import WorkItem

    rng = random.Random(SEED * 1_000_003 + scale.agents)
    began = time.monotonic()
    harness.step(f"{scale.agents:,} agents: emptying the routing tables")
    reset()
    queues_create()
    harness.step(f"{scale.agents:,} agents: creating the agents")
    profiles = agents_create(scale.agents, rng)
    harness.step(f"{scale.agents:,} agents: writing their slots ({time.monotonic() - began:.0f} s)")
    scale.slots = slots_create(profiles)
    slots_check(profiles, rng)
    harness.step(f"{scale.agents:,} agents: {scale.slots:,} slots; {args.waiting:,} waiting items "
                 f"({time.monotonic() - began:.0f} s)")
    backlog_create(args.waiting, rng)
    harness.step(f"{scale.agents:,} agents: VACUUM ANALYZE ({time.monotonic() - began:.0f} s)")
    vacuum_analyze()
    scale.waiting = WorkItem.objects.filter(state="waiting").count()
    scale.setup_seconds = time.monotonic() - began
    harness.step(f"{scale.agents:,} agents: set up in {scale.setup_seconds:.0f} s")
    return profiles


def rounds(total: int, batch: int) -> list[int]:
    return [min(batch, total - start) for start in range(0, total, batch)]


def decide_and_complete(arrivals: Arrivals, count: int, args: argparse.Namespace, *,
                        rate: float | None, scale: Scale, call: str = "enqueue",
                        workers: int | None = None) -> tuple[Run, Run]:
    """`count` enqueues then the completion of the placed ones, in rounds of --batch."""
    decisions, completes = Run(), Run()
    for size in rounds(count, args.batch):
        enqueued = run(call, arrivals.take(size), workers=workers or args.workers, rate=rate)
        decisions.extend(enqueued)
        placed = [outcome[0] for outcome in enqueued.outcomes if outcome[2] is not None]
        unplaced = [outcome[0] for outcome in enqueued.outcomes if outcome[2] is None]
        scale.unplaced += len(unplaced)
        over = over_capacity()
        if over:
            scale.problems.append(f"{over} agents over capacity")
        completes.extend(run("complete", placed, workers=args.workers, rate=rate))
        if unplaced:
            from routing import services

            for item_id in unplaced:
                services.work_item_cancel(item_id=item_id)
    return decisions, completes


def over_capacity() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT i.agent_id FROM routing_workitem i "
            "JOIN routing_agentprofile a ON a.id = i.agent_id WHERE i.state IN ('offered', 'assigned') "
            "GROUP BY i.agent_id, i.channel, a.capacity "
            "HAVING count(*) > coalesce((a.capacity ->> i.channel)::int, 0)) over")
        return cursor.fetchone()[0]


def consistency(scale: Scale, args: argparse.Namespace) -> None:
    from routing.models import AgentSlot, ItemState, WorkItem

    waiting = WorkItem.objects.filter(state=ItemState.WAITING).count()
    held = WorkItem.objects.filter(state__in=(ItemState.OFFERED, ItemState.ASSIGNED)).count()
    stale = AgentSlot.objects.exclude(available=True, spare_permille=1000).count()
    if waiting != args.waiting:
        scale.problems.append(f"{waiting} items waiting, not the {args.waiting} of the backlog")
    if held:
        scale.problems.append(f"{held} items still held after every completion")
    if stale:
        scale.problems.append(f"{stale} slots not back to available with full spare capacity")
    if scale.unplaced:
        scale.problems.append(f"{scale.unplaced} arrivals found no agent")
    for measured in (scale.paced, scale.completes, scale.flat_out, scale.flat_out_completes, scale.probe):
        for error, times in measured.errors.items():
            scale.problems.append(f"{times} x {error}")


def measure(scale: Scale, args: argparse.Namespace) -> None:
    arrivals = Arrivals(random.Random(SEED + scale.agents))
    harness.step(f"{scale.agents:,} agents: warming up ({args.warmup} items at {args.rate:g}/s)")
    decide_and_complete(arrivals, args.warmup, args, rate=args.rate, scale=scale)
    scale.unplaced = 0
    harness.step(f"{scale.agents:,} agents: {args.decisions:,} decisions at {args.rate:g}/s, each round of "
                 f"{args.batch} followed by its completions at {args.rate:g}/s")
    scale.paced, scale.completes = decide_and_complete(arrivals, args.decisions, args, rate=args.rate,
                                                       scale=scale)
    harness.step(f"{scale.agents:,} agents: decisions p50 {pct(scale.paced.latencies_ms, 0.5):.1f} ms, "
                 f"p99 {pct(scale.paced.latencies_ms, 0.99):.1f} ms; completions p99 "
                 f"{pct(scale.completes.latencies_ms, 0.99):.1f} ms")
    harness.step(f"{scale.agents:,} agents: {args.flat_out:,} decisions flat out with {args.workers} workers")
    scale.flat_out, scale.flat_out_completes = decide_and_complete(arrivals, args.flat_out, args, rate=None,
                                                                   scale=scale)
    harness.step(f"{scale.agents:,} agents: {scale.flat_out.rate:,.0f} decisions/s, "
                 f"{scale.flat_out_completes.rate:,.0f} completions/s flat out")
    harness.step(f"{scale.agents:,} agents: {args.probe} decisions one at a time, timing their statements "
                 "and pushes")
    scale.probe = decide_and_complete(arrivals, args.probe, args, rate=None, scale=scale, call="probe",
                                      workers=1)[0]
    consistency(scale, args)


# --- EXPLAIN ----------------------------------------------------------------------------------------


def explain(profiles: Sequence) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the matching queries exactly as the services send them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from routing import services
    from routing.models import OPEN_STATES, AgentProfile, Strategy, WorkItem

    def item(**extra: Any) -> WorkItem:
        fields = {"channel": "chat", "language": "en", "contact_kind": "customer", "min_agent_tier": 1,
                  "required_skills": [], "optional_skills": [], "declined_by": [],
                  "enqueued_at": timezone.now(), **extra}
        return WorkItem(**fields)

    widest = max(profiles, key=lambda p: (len(p.languages) * len(p.contact_kinds), not p.skills, -p.pk))
    widest = AgentProfile.objects.get(pk=widest.pk)
    narrowest = AgentProfile.objects.get(pk=min(
        profiles, key=lambda p: (len(p.languages) * len(p.contact_kinds), bool(p.skills), p.pk)).pk)
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("_slot_candidates: a new chat item (en, customer), longest idle (chat.en)",
         lambda: services._slot_candidates(item(), strategy=Strategy.LONGEST_IDLE)),
        ("_slot_candidates: a new chat item (es, customer), most spare capacity (chat.es)",
         lambda: services._slot_candidates(item(language="es"), strategy=Strategy.MOST_SPARE_CAPACITY)),
        ("_slot_candidates: a backlog item (en, customer, needs the skill no agent holds), as the sweeper's "
         "rematch and every enqueue of such an item run it",
         lambda: services._slot_candidates(item(required_skills=[BACKLOG_SKILL]),
                                           strategy=Strategy.LONGEST_IDLE)),
        (f"_waiting_for: agent {widest.pk} ({', '.join(widest.languages)} x {', '.join(widest.contact_kinds)}, "
         f"skills {widest.skills}), chat, as work_item_complete's pull runs it",
         lambda: services._waiting_for(widest, "chat")),
        (f"_waiting_for: agent {narrowest.pk} ({', '.join(narrowest.languages)} x "
         f"{', '.join(narrowest.contact_kinds)}, skills {narrowest.skills}), chat",
         lambda: services._waiting_for(narrowest, "chat")),
        ("work_item_enqueue: the open item of a new conversation",
         lambda: WorkItem.objects.filter(conversation_id=99_999_999, state__in=OPEN_STATES).first()),
        ("work_item_enqueue: the agent of the conversation's last item (the preferred agent)",
         lambda: WorkItem.objects.filter(conversation_id=99_999_999, agent__isnull=False)
         .order_by("-enqueued_at").values_list("agent_id", flat=True).first()),
    ]
    print()
    print("EXPLAIN (ANALYZE, BUFFERS) of the matching queries, as routing.services sends them")
    for title, call in cases:
        with CaptureQueriesContext(connection) as captured:
            call()
        sql = captured.captured_queries[-1]["sql"]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = [row[0] for row in cursor.fetchall()]
        print()
        print(f"-- {title}")
        print(sql)
        print("\n".join(plan))


# --- the report ----------------------------------------------------------------------------------------


def pct(values: Sequence[float], share: float) -> float:
    return harness.percentile(values, share)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "yes" if ok else "NO"


def ms(value: float) -> str:
    return f"{value:,.1f} ms"


def report(scales: list[Scale], args: argparse.Namespace, wall_seconds: float) -> bool:
    """Print the tables; whether everything was consistent (the targets are reported, not enforced)."""
    base = min(scales, key=lambda s: s.agents)
    print()
    print(f"Routing: work_item_enqueue (decide and claim) and work_item_complete, {args.waiting:,} items waiting")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; {args.workers} worker processes, each with its own connection, taking "
          "arrivals from one schedule;")
    print("  PostgreSQL, Redis and the load generator on the same machine")
    print()
    print(f"  decisions: {args.decisions:,} per scale offered at {args.rate:g}/s (latency from the scheduled "
          f"arrival to the return), {args.flat_out:,} flat out")
    rows = [["agents", "slots", "setup", "done/s", "p50", "p99", "max", f"p99 < {P99_TARGET_MS:g} ms", "|",
             "flat out/s", "CPU/decision", "(Python + PostgreSQL)", f"vs {base.agents:,}",
             f"<= {COST_RATIO_TARGET:g}x", "|", "others"]]
    for scale in scales:
        latencies = scale.paced.latencies_ms
        p99 = pct(latencies, 0.99)
        ratio = scale.cost_ms / base.cost_ms
        rows.append([
            f"{scale.agents:,}", f"{scale.slots:,}", f"{scale.setup_seconds:.0f} s", f"{scale.paced.rate:.1f}",
            ms(pct(latencies, 0.5)), ms(p99), ms(max(latencies, default=float("nan"))),
            verdict(p99 < P99_TARGET_MS and not scale.unplaced), "|", f"{scale.flat_out.rate:.0f}",
            ms(scale.cost_ms), f"({cpu_split(scale.paced, scale.flat_out)})", f"{ratio:.2f}x",
            verdict(None if scale is base else ratio <= COST_RATIO_TARGET), "|",
            f"{scale.paced.other_cores:.2f} / {scale.flat_out.other_cores:.2f}",
        ])
    harness.table(rows)
    print()
    print(f"  agent side: work_item_complete of the decided items, offered at {args.rate:g}/s and flat out (frees "
          "the capacity, then looks for the best waiting item the agent may take)")
    rows = [["agents", "waiting", "done/s", "p50", "p99", "max", "|", "flat out/s", "CPU/completion",
             "(Python + PostgreSQL)", "|", "others"]]
    for scale in scales:
        latencies = scale.completes.latencies_ms
        rows.append([
            f"{scale.agents:,}", f"{scale.waiting:,}", f"{scale.completes.rate:.1f}", ms(pct(latencies, 0.5)),
            ms(pct(latencies, 0.99)), ms(max(latencies, default=float("nan"))), "|",
            f"{scale.flat_out_completes.rate:.0f}", ms(scale.complete_cost_ms),
            f"({cpu_split(scale.completes, scale.flat_out_completes)})", "|",
            f"{scale.completes.other_cores:.2f} / {scale.flat_out_completes.other_cores:.2f}",
        ])
    harness.table(rows)
    print()
    print(f"  one decision at a time, nothing else of ours running (medians of {args.probe}): where its time goes")
    rows = [["agents", "decision", "statements", "in SQL", "in the push", "Python, ORM, commit"]]
    for scale in scales:
        outcomes = scale.probe.outcomes
        total = statistics.median(scale.probe.service_ms)
        in_sql = statistics.median(outcome[4] for outcome in outcomes)
        in_push = statistics.median(outcome[5] for outcome in outcomes)
        rows.append([f"{scale.agents:,}", ms(total), f"{statistics.median(o[3] for o in outcomes):.0f}",
                     ms(in_sql), ms(in_push), ms(total - in_sql - in_push)])
    harness.table(rows)
    print()
    print(f"  done/s under the offered {args.rate:g}/s: the machine could not keep up and arrivals queued (in "
          f"rounds of {args.batch}, so the queue starts again every {args.batch / args.rate:g} s)")
    print(f"  others: cores' worth of CPU used by other work on the machine (of {os.cpu_count()}; other people's "
          "tests, Redis, PostgreSQL's background), paced / flat out")
    print(f"  targets: p99 < {P99_TARGET_MS:g} ms at {args.rate:g} new items/s; the cost per decision (CPU of the "
          "workers and their PostgreSQL backends, paced and flat out)")
    print(f"  at the largest scale within {COST_RATIO_TARGET:g}x of that at {base.agents:,}")
    print("  against the yardsticks (flat out; CPU of the workers and their PostgreSQL backends):")
    for scale in scales:
        agents = f"{scale.agents:,} agents"
        decisions = harness.rate(agents + " decisions flat out", scale.flat_out.rate, "decisions/s")
        completions = harness.rate(agents + " completions flat out", scale.flat_out_completes.rate,
                                   "completions/s")
        print(f"    {agents}: {decisions}, {harness.cpu(agents + ' decision', scale.cost_ms, 'decision')}; "
              f"{completions}, "
              f"{harness.cpu(agents + ' completion', scale.complete_cost_ms, 'completion')}")
    for scale in scales:
        for problem in scale.problems:
            print(f"  PROBLEM at {scale.agents:,} agents: {problem}")
    consistent = not any(scale.problems for scale in scales)
    print(f"  consistency: {'OK' if consistent else 'FAILED'} (no agent over capacity, every arrival placed, "
          "no error, every slot free again, the backlog untouched)")
    print(f"  wall time: {wall_seconds / 60:.1f} min")
    return consistent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="500,5000,50000", help="agents online, comma-separated")
    parser.add_argument("--decisions", type=int, default=2_000, help="paced decisions per scale")
    parser.add_argument("--flat-out", type=int, default=1_000, help="unpaced decisions per scale")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured decisions per scale")
    parser.add_argument("--batch", type=int, default=500,
                        help="decisions per round before their completion (keep under the agents' room)")
    parser.add_argument("--rate", type=float, default=100.0, help="offered new items per second")
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--probe", type=int, default=50,
                        help="decisions one at a time per scale, timing their statements and pushes")
    parser.add_argument("--waiting", type=int, default=10_000, help="items waiting as background load")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN (ANALYZE, BUFFERS) of the matching queries at the largest scale")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    try:
        agent_counts = sorted({int(part) for part in args.scales.split(",") if part.strip()})
    except ValueError:
        parser.error("--scales takes numbers separated by commas")
    if not agent_counts or agent_counts[0] < 100 or args.waiting < 1 or args.workers < 1 or args.rate <= 0:
        parser.error("--scales of 100 agents or more; --waiting, --workers and --rate above zero")
    if min(args.decisions, args.flat_out, args.batch, args.probe) < 1 or args.warmup < 0:
        parser.error("--decisions, --flat-out, --batch and --probe must be at least 1")
    if args.batch > agent_counts[0]:
        parser.error(f"--batch over {agent_counts[0]} could run the smallest scale's agents out of room")

    began = time.monotonic()
    harness.yardsticks()  # before the benchmark's own load, once for the process
    django_setup()
    scales = []
    for count in agent_counts:
        scale = Scale(agents=count)
        profiles = setup(scale, args)
        measure(scale, args)
        if args.explain and count == agent_counts[-1]:
            explain(profiles)
        scales.append(scale)
    consistent = report(scales, args, time.monotonic() - began)
    harness.json_write(args, benchmark="routing", consistent=consistent)
    if not consistent:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
