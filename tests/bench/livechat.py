"""Live chat over real websockets: messages/s and latency from a customer's widget to the agent's
workspace, and how many idle widgets the servers hold and at what memory.

Starts uvicorn (the real ASGI app: Channels, the Redis channel layer, PostgreSQL) against a
scratch database of its own (`<name>_bench_livechat`, migrated, its tables emptied at each run)
and drives it from separate client processes (asyncio + `websockets`), so connections on the two
ends do not share one file-descriptor limit and the client's CPU is measured apart:

- set-up, in bulk: --agents agents online (AgentProfile, chat capacity far above their load), a
  signed-in Django session each; --customers contacts with an open chat assigned to one of them
  (a routing WorkItem in state assigned), and --idle contacts with an open, unassigned chat;
- throughput and latency: every agent socket (`/ws/agent/`, session cookie, allowed Origin) and
  every customer socket (`/ws/chat/?token=...`) connected; customers send `message` frames at a
  fixed total rate spread over them (--rates, each for --seconds after a --warmup), then flat out
  (each customer sends its next message when the last is acked); latency is from the customer's
  send to the agent socket receiving its `chat.message` (matched by client_id); lost = sent but
  never seen by the agent;
- idle connections: --idle customer sockets opened in two halves; the servers' RSS (VmRSS summed
  over the uvicorn processes) before, at half and at all, so the memory per idle connection; then
  every socket must answer a frame, and a sample must receive a message pushed to its chat's group.

CPU per message is reported for the servers, their PostgreSQL backends, Redis and the client. The
rate limits are raised for the run (CHAT_RATE_* passed to the servers). Alternatives to compare:
--layer core (channels_redis.core; the desk's default is pubsub), --servers, --topology workers
(`uvicorn --workers N` on one port instead of N processes on N ports), --ws, --deflate,
--db-threads pool (a scratch change in the bench's servers only: the consumers' database calls
on a thread pool instead of the one thread `database_sync_to_async` uses by default).

    python -m tests.bench.livechat [--quick] [--rates 250,500,1000] [--seconds 20] [--layer pubsub|core]
                                   [--servers 2] [--topology ports] [--skip-idle]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import os
import resource
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.bench import harness
from tests.bench.livechat_clients import Stage, StageResult, barrier_wait, clients
from tests.bench.livechat_setup import (
    CHANNEL_PREFIX,
    HIGH_RATE,
    IDLE_TARGET,
    LAYERS,
    P99_TARGET_MS,
    RATE_TARGET,
    REDIS_KEY_PREFIX,
    Meters,
    Population,
    Servers,
    delta,
    django_setup,
    layer_configure,
    populate,
    reset,
    servers_running,
)

# --- the servers' application (imported by uvicorn in each server process) --------------------------


def __getattr__(name: str) -> Any:
    """`tests.bench.livechat:server_application`: the project's ASGI app with the bench's overrides
    (channel layer backend and prefix; optionally the consumers' database calls on a thread pool).
    A module attribute made on first access, so that importing this module sets nothing up."""
    if name != "server_application":
        raise AttributeError(name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import django

    django.setup()
    layer_configure(os.environ.get("BENCH_CHANNEL_LAYER", "pubsub"))
    if os.environ.get("BENCH_DB_THREADS") == "pool":
        from channels.db import database_sync_to_async

        import conversations.consumers as consumers

        # The scratch change measured by --db-threads pool: thread_sensitive=False runs each call
        # on the default executor (ASGI_THREADS threads) instead of the single shared thread.
        consumers.database_sync_to_async = functools.partial(database_sync_to_async, thread_sensitive=False)
    from supportdesk.asgi import application

    if os.environ.get("BENCH_PROFILE"):
        profile_servers(os.environ["BENCH_PROFILE"])
    return application


def profile_servers(directory: str) -> None:
    """--profile: cProfile over this server's event loop thread (where a chat message is
    handled), timed in that thread's CPU, written to `directory` every few seconds (the
    server is stopped by a signal, with no clean exit to write it at)."""
    import cProfile

    profile = cProfile.Profile(time.thread_time)
    profile.enable()  # uvicorn imports the application on the thread that runs its loop
    path = os.path.join(directory, f"server-{os.getpid()}.prof")

    def dump() -> None:
        while True:
            time.sleep(3)
            profile.dump_stats(path)  # its disable() is this thread's: the loop's goes on

    threading.Thread(target=dump, name="bench-profile", daemon=True).start()


# --- the two measurements ----------------------------------------------------------------------------


@dataclass
class Measured:
    stage: Stage
    result: StageResult
    cpu: dict[str, float]


def throughput(population: Population, servers: Servers, args: argparse.Namespace) -> list[Measured]:
    stages = [Stage("warm-up", args.rates[0], args.warmup, measured=False)]
    stages += [Stage(f"{rate:g}/s", rate, args.seconds) for rate in args.rates]
    if args.flat_out:
        stages.append(Stage("flat out", None, args.flat_out))
    shards = []
    for number in range(args.clients):
        agent_indexes = list(range(number, len(population.agents), args.clients))
        shards.append({
            "tag": f"c{number}", "clients": args.clients, "stages": stages,
            "agents": [population.agents[i] for i in agent_indexes],
            "customers": [token for agent, token in population.customers if agent % args.clients == number],
        })
    harness.step(f"connecting {len(population.agents)} agents and {len(population.customers):,} customers "
                 f"from {args.clients} client process(es)")
    meters = Meters(servers)
    measured = []
    with clients("load", shards, args, servers.ports) as (barrier, collect, _):
        barrier_wait(barrier, 180)
        for stage in stages:
            harness.step(f"{stage.name}: {'as fast as acked' if stage.rate is None else 'paced'} for "
                         f"{stage.seconds:g} s")
            barrier_wait(barrier, 120)
            before = meters.read()
            barrier_wait(barrier, stage.seconds + 140)
            measured.append(Measured(stage, StageResult(), delta(meters.read(), before)))
        outcomes = collect()
    for outcome in outcomes:
        for entry in measured:
            entry.result.add(outcome[entry.stage.name])
    for entry in measured:
        result = entry.result
        if entry.stage.measured:
            harness.step(f"{entry.stage.name}: {result.received / result.seconds:,.0f} msg/s, "
                         f"p99 {harness.percentile(result.latencies_ms, 0.99):.1f} ms, {result.lost} lost")
    return [entry for entry in measured if entry.stage.measured]


@dataclass
class Idle:
    rss: list[int] = field(default_factory=list)  # none open, half, all
    opened: int = 0
    still_open: int = 0
    answered: int = 0
    sample: int = 0
    pushed: int = 0
    open_seconds: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)


def idle_connections(population: Population, servers: Servers, args: argparse.Namespace) -> Idle:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from conversations.push import conversation_group

    idle = population.idle
    step = max(1, len(idle) // args.push_sample)
    sample = {conversation_id for conversation_id, _ in idle[::step]}
    shards = [{"idle": idle[n::args.idle_clients],
               "sample": [cid for cid, _ in idle[n::args.idle_clients] if cid in sample]}
              for n in range(args.idle_clients)]
    outcome = Idle(rss=[servers.rss_bytes()])
    harness.step(f"idle: opening {len(idle) // 2:,} customer sockets from {args.idle_clients} client processes "
                 f"(servers' RSS {outcome.rss[0] / 2**20:,.0f} MiB)")
    with clients("idle", shards, args, servers.ports) as (barrier, collect, _):
        barrier_wait(barrier, 900)
        time.sleep(2)  # let the servers settle (garbage collection, buffers)
        outcome.rss.append(servers.rss_bytes())
        harness.step(f"idle: {len(idle) // 2:,} open, RSS {outcome.rss[1] / 2**20:,.0f} MiB; "
                     f"opening the other {len(idle) - len(idle) // 2:,}")
        barrier_wait(barrier, 900)
        time.sleep(2)
        outcome.rss.append(servers.rss_bytes())
        harness.step(f"idle: all open, RSS {outcome.rss[2] / 2**20:,.0f} MiB; every socket sends a frame, "
                     f"{len(sample):,} get a push to their chat")
        barrier_wait(barrier, 900)
        layer = get_channel_layer()

        async def push_all() -> None:
            for conversation_id in sample:
                await layer.group_send(conversation_group(conversation_id), {
                    "type": "chat.message", "conversation_id": conversation_id, "sequence": 0, "direction": "out",
                    "body": "Are you still there?", "author": "Bench", "client_id": "bench-push",
                    "created_at": ""})

        async_to_sync(push_all)()
        barrier_wait(barrier, 900)
        for part in collect():
            outcome.opened += part["opened"]
            outcome.still_open += part["still_open"]
            outcome.answered += part["answered"]
            outcome.sample += part["sample"]
            outcome.pushed += part["pushed"]
            outcome.failures.update(part["failures"])
            outcome.open_seconds = [max(a, b) for a, b in
                                    itertools.zip_longest(outcome.open_seconds, part["open_seconds"], fillvalue=0)]
    return outcome


# --- the report ------------------------------------------------------------------------------------------


def per_message_ms(seconds: float, messages: int) -> str:
    return f"{seconds * 1000 / messages:.2f}" if messages else "-"


def report(args: argparse.Namespace, population: Population, measured: list[Measured], idle: Idle | None,
           wall_seconds: float) -> bool:
    print()
    print(f"Live chat over websockets: {len(population.agents)} agents, {len(population.customers):,} customers "
          "with an assigned chat")
    harness.yardstick_header()
    print(f"  {harness.machine_line()}; servers: {args.servers} uvicorn "
          f"{'processes on their own ports' if args.topology == 'ports' else 'workers on one port'} "
          f"(--ws {args.ws}, per-message deflate {'on' if args.deflate else 'off'}), channel layer "
          f"{LAYERS[args.layer]}, database calls on "
          f"{'a thread pool' if args.db_threads == 'pool' else 'one thread'} per process;")
    print(f"  {args.clients} load client process(es); PostgreSQL, Redis and the clients on the same machine")
    print("  rate limits raised for the run: CHAT_RATE_VISITOR, CHAT_RATE_IP, CHAT_RATE_AGENT, "
          f"CHAT_RATE_CONNECT_IP={HIGH_RATE}")
    print()
    print("  customer send -> agent socket receives the chat.message (client_id matched)")
    rows = [["offered", "sent/s", "received/s", "p50", "p99", "max", f"p99 < {P99_TARGET_MS:g} ms", "lost",
             "errors", "|", "CPU ms/msg: servers", "PostgreSQL", "Redis", "client", "|", "machine busy",
             "send lag p99"]]
    ok = True
    for entry in measured:
        result, cpu = entry.result, entry.cpu
        latencies = result.latencies_ms
        p99 = harness.percentile(latencies, 0.99)
        seconds = result.seconds or float("nan")
        ok = ok and not result.lost and not result.errors
        rows.append([
            entry.stage.name, f"{result.sent / seconds:,.0f}", f"{result.received / seconds:,.0f}",
            f"{harness.percentile(latencies, 0.5):.1f} ms", f"{p99:.1f} ms", f"{max(latencies, default=0):.0f} ms",
            "yes" if p99 < P99_TARGET_MS and not result.lost else "NO", f"{result.lost}",
            f"{sum(result.errors.values())}", "|", per_message_ms(cpu["servers"], result.received),
            per_message_ms(cpu["postgres"], result.received), per_message_ms(cpu["redis"], result.received),
            per_message_ms(result.client_cpu, result.received), "|",
            f"{cpu['machine'] / cpu['wall']:.2f} of {os.cpu_count()} cores",
            f"{harness.percentile(result.send_lag_ms, 0.99):.1f} ms" if result.send_lag_ms else "-",
        ])
    harness.table(rows)
    for entry in measured:
        for error, times in entry.result.errors.most_common():
            print(f"  PROBLEM at {entry.stage.name}: {times} x {error}")
    best = max((e for e in measured if e.stage.rate is not None), key=lambda e: e.stage.rate, default=None)
    if best is not None:
        sustained = best.result.received / best.result.seconds
        p99 = harness.percentile(best.result.latencies_ms, 0.99)
        print(f"  target: {RATE_TARGET:,.0f} msg/s sustained with p99 < {P99_TARGET_MS:g} ms: "
              f"{'met' if sustained >= RATE_TARGET * 0.98 and p99 < P99_TARGET_MS else 'NOT met'} "
              f"(at {best.stage.name}: {sustained:,.0f} msg/s, p99 {p99:.1f} ms)")
    print("  CPU ms/msg: CPU seconds over the stage per message received (servers: every uvicorn process; "
          "PostgreSQL: their backends)")
    print("  against the yardsticks (received/s; the servers' CPU, then servers + PostgreSQL + Redis):")
    for entry in measured:
        received, cpu = entry.result.received, entry.cpu
        if not received or not entry.result.seconds:
            continue
        servers_ms = cpu["servers"] * 1000 / received
        path_ms = (cpu["servers"] + cpu["postgres"] + cpu["redis"]) * 1000 / received
        per_second = received / entry.result.seconds
        print(f"    {entry.stage.name}: {harness.rate(entry.stage.name, per_second, 'msg/s')}; "
              f"servers {harness.cpu(entry.stage.name + ' servers', servers_ms, 'msg')}; "
              f"whole path {harness.cpu(entry.stage.name + ' whole path', path_ms, 'msg')}")
    print("  send lag: how late the client sent behind its schedule (the client's own slowness)")
    if idle is not None:
        print()
        print("  idle customer sockets (the widget connected, following its chat, nothing sent)")
        none, half, full = idle.rss
        opened_half = idle.opened // 2 or 1
        rows = [["open", "servers' RSS", "per connection", "connect time"],
                ["0", f"{none / 2**20:,.0f} MiB", "", ""],
                [f"{len(population.idle) // 2:,}", f"{half / 2**20:,.0f} MiB",
                 f"{(half - none) / opened_half / 1024:,.1f} KiB", f"{idle.open_seconds[0]:.0f} s"],
                [f"{idle.opened:,}", f"{full / 2**20:,.0f} MiB",
                 f"{(full - none) / max(idle.opened, 1) / 1024:,.1f} KiB", f"{idle.open_seconds[1]:.0f} s"]]
        harness.table(rows)
        all_ok = (idle.opened == idle.still_open == idle.answered == len(population.idle)
                  and idle.pushed == idle.sample)
        ok = ok and all_ok
        print(f"  {idle.still_open:,} of {len(population.idle):,} still open, {idle.answered:,} answered a frame, "
              f"{idle.pushed:,} of a sample of {idle.sample:,} received a push to their chat: "
              f"{'OK' if all_ok else 'FAILED'}"
              f" (target {IDLE_TARGET:,}: {'met' if all_ok and idle.opened >= IDLE_TARGET else 'NOT met'})")
        for failure, times in idle.failures.most_common():
            print(f"  PROBLEM opening idle sockets: {times} x {failure}")
    print(f"  consistency: {'OK' if ok else 'FAILED'} (no message lost, no error frame, every idle socket "
          "answering)")
    print(f"  wall time: {wall_seconds / 60:.1f} min")
    return ok


def raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by servers and clients
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run with small counts")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--customers", type=int, default=1_000, help="customers sending messages")
    parser.add_argument("--idle", type=int, default=10_000, help="idle customer sockets to open")
    parser.add_argument("--rates", default="250,500,1000", help="total messages/s offered, comma-separated")
    parser.add_argument("--seconds", type=float, default=20, help="per rate")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--flat-out", type=float, default=10, help="seconds flat out; 0 to skip")
    parser.add_argument("--servers", type=int, default=2, help="uvicorn processes (or workers)")
    parser.add_argument("--topology", choices=("ports", "workers"), default="ports")
    parser.add_argument("--ws", choices=("websockets", "websockets-sansio", "wsproto"), default="websockets")
    parser.add_argument("--deflate", action="store_true",
                        help="per-message deflate on (off for make run: small frames, 3x the memory a socket)")
    parser.add_argument("--layer", choices=sorted(LAYERS), default="pubsub")
    parser.add_argument("--db-threads", choices=("single", "pool"), default="single")
    parser.add_argument("--clients", type=int, default=1, help="load client processes")
    parser.add_argument("--idle-clients", type=int, default=4, help="client processes holding the idle sockets")
    parser.add_argument("--connect-concurrency", type=int, default=20, help="idle connects in flight per client")
    parser.add_argument("--push-sample", type=int, default=1_000)
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--profile", metavar="DIR",
                        help="cProfile each server's event loop thread (its CPU time) into DIR/server-<pid>.prof; "
                             "read with python -m pstats")
    harness.add_output_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.agents, args.customers = min(args.agents, 10), min(args.customers, 100)
        args.idle = min(args.idle, 1_000)
        args.rates, args.seconds, args.warmup, args.flat_out = "100,300", 4, 2, 3
        args.push_sample = min(args.push_sample, 100)
    try:
        args.rates = sorted({float(part) for part in args.rates.split(",") if part.strip()})
    except ValueError:
        parser.error("--rates takes numbers separated by commas")
    if not args.rates or args.rates[0] <= 0 or args.seconds <= 0 or args.warmup < 0 or args.flat_out < 0:
        parser.error("--rates and --seconds above zero; --warmup and --flat-out at least zero")
    if min(args.agents, args.customers, args.servers, args.clients, args.idle_clients, args.connect_concurrency,
           args.push_sample) < 1 or args.idle < 2 or args.clients > args.agents:
        parser.error("every count at least 1 (--idle at least 2), --clients at most --agents")
    limit = raise_file_limit()
    per_client = args.idle // args.idle_clients + 100
    if per_client > limit or args.idle // args.servers + 200 > limit:
        parser.error(f"the open-files limit is {limit}: use more --idle-clients/--servers or fewer --idle")

    # Ctrl-C and SIGTERM both unwind, so every server and client process is stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    began = time.monotonic()
    harness.yardsticks()  # before the benchmark's own load, once for the process
    try:
        env = django_setup(args.layer)
        harness.step(f"setting up {args.agents} agents, {args.customers:,} customers with an assigned chat and "
                     f"{args.idle:,} with an open one (open-files limit {limit})")
        reset()
        population = populate(args.agents, args.customers, args.idle)
        redis_clear()
        harness.step(f"starting {args.servers} uvicorn {'processes' if args.topology == 'ports' else 'workers'}")
        with servers_running(args, env) as servers:
            measured = throughput(population, servers, args)
            idle = None if args.skip_idle else idle_connections(population, servers, args)
    except KeyboardInterrupt:
        print("Interrupted; the servers and clients are stopped.", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        redis_clear()
    consistent = report(args, population, measured, idle, time.monotonic() - began)
    harness.json_write(args, benchmark="livechat", consistent=consistent)
    if not consistent:
        raise SystemExit(1)


def redis_clear() -> None:
    """Remove the bench's channel-layer and rate-limit keys (its own prefixes only)."""
    with contextlib.suppress(Exception):
        import redis
        from django.conf import settings

        client = redis.Redis.from_url(settings.REDIS_URL)
        for pattern in (f"{CHANNEL_PREFIX}*", f"{REDIS_KEY_PREFIX}:*"):
            keys = list(client.scan_iter(match=pattern, count=1_000))
            for start in range(0, len(keys), 1_000):
                client.delete(*keys[start:start + 1_000])


if __name__ == "__main__":
    main()
