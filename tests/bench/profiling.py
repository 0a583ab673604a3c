"""Where a routing decision's CPU goes: its statements (round trips) and a cProfile of the Python.

Sets up the routing benchmark's world at one scale (its own database, `<name>_bench_routing`,
dropped and migrated afresh; agents, slots, queues, rules and the waiting backlog as
tests/bench/routing.py builds them), then runs decisions one at a time in this process:

- one decision's statements, in order, as the server receives them (each `execute` is one
  round trip; the BEGIN and COMMIT psycopg sends around them are two more);
- over --decisions decisions and their completions: CPU per call, this thread (the decision)
  apart from the rest of the process (the push thread sending to Redis) and the PostgreSQL
  backend's, and the functions where this thread's time goes (cProfile, --top of them).

    python -m tests.bench.profiling [--agents 500] [--decisions 300] [--top 25] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import time
from collections.abc import Callable
from typing import Any

from tests.bench import harness
from tests.bench import routing as routing_bench


class Statements:
    """An execute wrapper that keeps each statement (shortened) and counts them."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.count = 0
        self.seen: list[str] = []

    def __call__(self, execute: Callable, statement: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        if self.keep:
            self.seen.append(" ".join(statement.split())[:160])
        return execute(statement, params, many, context)


def cpu_now(backend_pid: int) -> tuple[float, float, float]:
    """(this thread, the whole process, the PostgreSQL backend) CPU seconds."""
    return time.thread_time(), time.process_time(), harness.process_cpu_seconds(backend_pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"))
    parser.add_argument("--focus", default="services|engine|push|transaction|rules|selectors",
                        help="a regular expression of functions also listed by cumulative time ('' for none)")
    parser.add_argument("--profiled", type=int, default=100,
                        help="decisions (and completions) under cProfile, apart from the measured ones")
    args = parser.parse_args()
    harness.yardsticks()
    routing_bench.django_setup()
    from django.db import connection

    from routing import services
    from supportdesk import push

    scale = routing_bench.Scale(agents=args.agents)
    routing_bench.setup(scale, argparse.Namespace(waiting=args.waiting))
    arrivals = routing_bench.Arrivals(random.Random(routing_bench.SEED))
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid

    def decide(job: tuple[int, str, str]) -> Any:
        conversation_id, language, kind = job
        return services.work_item_enqueue(conversation_id=conversation_id, channel="chat",
                                          attributes={"language": language, "contact_kind": kind})

    for job in arrivals.take(50):  # warm: caches, prepared plans, the push thread's connection
        services.work_item_complete(item_id=decide(job).pk)
    push.flush()

    one = Statements(keep=True)
    with connection.execute_wrapper(one):
        item = decide(arrivals.take(1)[0])
    with connection.execute_wrapper(completed := Statements(keep=True)):
        services.work_item_complete(item_id=item.pk)
    push.flush()

    jobs = arrivals.take(args.decisions)
    counted = Statements()
    began = cpu_now(backend)
    with connection.execute_wrapper(counted):
        items = [decide(job) for job in jobs]
    push.flush()
    decided = cpu_now(backend)
    with connection.execute_wrapper(completions := Statements()):
        for item in items:
            services.work_item_complete(item_id=item.pk)
    push.flush()
    ended = cpu_now(backend)
    unplaced = sum(item.agent_id is None for item in items)
    # Profiled apart (cProfile slows what it watches): other decisions, and their completions. The
    # timer is this thread's CPU time, so waiting for PostgreSQL (the backend's CPU, above) is not in it.
    profile, completion_profile = cProfile.Profile(time.thread_time), cProfile.Profile(time.thread_time)
    profile.enable()
    profiled = [decide(job) for job in arrivals.take(args.profiled)]
    profile.disable()
    completion_profile.enable()
    for item in profiled:
        services.work_item_complete(item_id=item.pk)
    completion_profile.disable()
    push.flush()

    print()
    print(f"Routing decision profile: {args.agents:,} agents, {scale.waiting:,} waiting, "
          f"{args.decisions} decisions one at a time")
    harness.yardstick_header()
    print(f"  one decision (work_item_enqueue), {len(one.seen)} statements, each a round trip (+ BEGIN, COMMIT):")
    for number, statement in enumerate(one.seen, 1):
        print(f"    {number}. {statement}")
    print(f"  its completion (work_item_complete), {len(completed.seen)} statements:")
    for number, statement in enumerate(completed.seen, 1):
        print(f"    {number}. {statement}")
    count = len(jobs)
    for name, start, end, statements in (("decision", began, decided, counted),
                                         ("completion", decided, ended, completions)):
        thread_ms, process_ms, database_ms = ((end[i] - start[i]) * 1000 / count for i in range(3))
        print(f"  per {name}: {statements.count / count:.1f} statements; "
              f"{harness.cpu(name + ' this thread', thread_ms, name)} in this thread, "
              f"{process_ms - thread_ms:.2f} ms in the push thread, "
              f"{harness.cpu(name + ' PostgreSQL', database_ms, name)} in PostgreSQL")
    print(f"  unplaced: {unplaced} (the profile is of decisions that found an agent)")
    for name, profiled_by in (("decisions", profile), ("completions", completion_profile)):
        print(f"  the {name}' CPU in their own thread under cProfile (which inflates it), top {args.top} by "
              f"{args.sort}:")
        out = io.StringIO()
        stats = pstats.Stats(profiled_by, stream=out).strip_dirs().sort_stats(args.sort)
        stats.print_stats(args.top)
        if args.focus:  # the named functions of our own code, by cumulative time: the phases of the call
            stats.sort_stats("cumulative").print_stats(args.focus)
        print("\n".join("    " + line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
