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
import itertools
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.bench import harness
from tests.bench.routing_runs import Run, run
from tests.bench.routing_world import (  # noqa: F401  (SEED and django_setup for tests.bench.profiling)
    BACKLOG_SKILL,
    KIND_WEIGHTS,
    LANGUAGES,
    SEED,
    agents_create,
    backlog_create,
    django_setup,
    queues_create,
    reset,
    slots_check,
    slots_create,
    vacuum_analyze,
)

P99_TARGET_MS = 50.0
COST_RATIO_TARGET = 1.5


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
