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
import asyncio
import contextlib
import functools
import itertools
import json
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.bench import harness

DATABASE = "bench_livechat"
# Their own key prefixes, so that the bench never meets another checkout's sockets or limits on Redis.
CHANNEL_PREFIX = "bench-livechat"
REDIS_KEY_PREFIX = "sd-bench-livechat"
LAYERS = {"core": "channels_redis.core.RedisChannelLayer",
          "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer"}
HIGH_RATE = "1000000/10"
P99_TARGET_MS = 150.0
RATE_TARGET = 1000.0
IDLE_TARGET = 10_000


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


def layer_configure(layer: str) -> None:
    """The bench's channel layer: the desk's configuration (hosts, pool size) with the chosen
    backend and the bench's own prefix."""
    from django.conf import settings

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": LAYERS[layer],
                                           "CONFIG": {**config, "prefix": CHANNEL_PREFIX}}}


# --- set-up --------------------------------------------------------------------------------------------


def django_setup(layer: str) -> dict[str, str]:
    env = harness.bench_env(database=DATABASE, REDIS_KEY_PREFIX=REDIS_KEY_PREFIX, CHAT_RATE_VISITOR=HIGH_RATE,
                            CHAT_RATE_IP=HIGH_RATE, CHAT_RATE_CONNECT_IP=HIGH_RATE, CHAT_RATE_AGENT=HIGH_RATE,
                            DATABASE_POOL="false")
    harness.prepare_database(env)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportdesk.settings")
    import django

    django.setup()
    layer_configure(layer)
    del env["DATABASE_POOL"]  # the servers run as deployed: with their connection pool
    return env


def reset() -> None:
    """Empty what the bench writes (the database is the benchmark's own)."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session
    from django.db import connection

    from conversations.models import Conversation, Message
    from routing.models import AgentProfile, AgentSlot, Queue, WorkItem, WorkItemEvent
    from timeline.models import Contact

    models = (Message, Conversation, WorkItemEvent, WorkItem, AgentSlot, AgentProfile, Queue, Contact,
              Session, get_user_model())
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(m._meta.db_table for m in models)} RESTART IDENTITY CASCADE")


@dataclass
class Population:
    agents: list[tuple[int, str]] = field(default_factory=list)  # (user id, session key)
    # (agent index, session token) per customer with an assigned chat
    customers: list[tuple[int, str]] = field(default_factory=list)
    idle: list[tuple[int, str]] = field(default_factory=list)  # (conversation id, session token)


def populate(agents: int, customers: int, idle: int) -> Population:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from conversations.models import Channel, Conversation, ConversationStatus
    from conversations.widget import Session, session_encode
    from routing.models import AgentProfile, ItemState, Presence, Queue, WorkItem, default_capacity
    from timeline.models import Contact, ContactKind

    now = timezone.now()
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [user_model(username=f"bench.agent.{n}", first_name=f"Agent{n}",
                    password=f"{UNUSABLE_PASSWORD_PREFIX}{uuid.uuid4().hex}") for n in range(agents)])
    profiles = AgentProfile.objects.bulk_create([
        AgentProfile(user_id=user.pk, languages=["en"], contact_kinds=[ContactKind.CUSTOMER],
                     capacity={**default_capacity(), "chat": customers + 1}, presence=Presence.ONLINE,
                     presence_since=now, last_heartbeat_at=now)
        for user in users])
    population = Population()
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        population.agents.append((user.pk, session.session_key))
    queue = Queue.objects.create(key="chat.bench", name="Chat (bench)")
    contacts = Contact.objects.bulk_create(
        [Contact(kind=ContactKind.CUSTOMER, external_id=f"bench-{n}", name=f"Customer {n}",
                 preferred_language="en") for n in range(customers + idle)], batch_size=5_000)
    conversations = Conversation.objects.bulk_create(
        [Conversation(contact_id=contact.pk, channel=Channel.CHAT, status=ConversationStatus.OPEN, language="en",
                      assignee_id=users[n % agents].pk if n < customers else None, routed_at=now)
         for n, contact in enumerate(contacts)], batch_size=5_000)
    WorkItem.objects.bulk_create(
        [WorkItem(conversation_id=conversation.pk, channel=Channel.CHAT, language="en",
                  contact_kind=ContactKind.CUSTOMER, attributes={"language": "en", "contact_kind": "customer"},
                  queue=queue, queue_priority=queue.priority, state=ItemState.ASSIGNED, agent=profiles[n % agents],
                  enqueued_at=now, queued_at=now, offered_at=now, assigned_at=now, answered_at=now)
         for n, conversation in enumerate(conversations[:customers])], batch_size=5_000)
    for n, (contact, conversation) in enumerate(zip(contacts, conversations, strict=True)):
        token = session_encode(Session(contact_id=contact.pk))
        if n < customers:
            population.customers.append((n % agents, token))
        else:
            population.idle.append((conversation.pk, token))
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return population


# --- the servers -----------------------------------------------------------------------------------


@dataclass
class Servers:
    ports: list[int]
    roots: list[int] = field(default_factory=list)  # the uvicorn processes we started

    def pids(self) -> list[int]:
        """Every uvicorn process: those started and their children (`--workers` forks them)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
        found, todo = [], list(self.roots)
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def cpu_seconds(self) -> float:
        return sum(harness.process_cpu_seconds(pid) for pid in self.pids())


def server_commands(args: argparse.Namespace) -> tuple[list[list[str]], list[int]]:
    common = [str(harness.VENV_BIN / "uvicorn"), "tests.bench.livechat:server_application", "--host", "127.0.0.1",
              "--no-access-log", "--lifespan", "off", "--log-level", "warning", "--loop", "uvloop",
              "--http", "httptools", "--ws", args.ws, "--backlog", "4096",
              "--ws-per-message-deflate", "true" if args.deflate else "false"]
    if args.topology == "workers":
        port = harness.free_port()
        return [[*common, "--port", str(port), "--workers", str(args.servers)]], [port]
    ports = [harness.free_port() for _ in range(args.servers)]
    return [[*common, "--port", str(port)] for port in ports], ports


@contextlib.contextmanager
def servers_running(args: argparse.Namespace, env: dict[str, str]):
    commands, ports = server_commands(args)
    env = {**env, "BENCH_CHANNEL_LAYER": args.layer, "BENCH_DB_THREADS": args.db_threads,
           **({"BENCH_PROFILE": args.profile} if args.profile else {})}
    before = set(Path("/proc").iterdir())
    with harness.processes(commands, env=env):
        for port in ports:
            harness.wait_for_port(port)
        servers = Servers(ports=ports)
        # harness.processes keeps its Popen objects; find ours as the new uvicorn processes of this session.
        for entry in set(Path("/proc").iterdir()) - before:
            with contextlib.suppress(OSError, ValueError):
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                if any(b"server_application" in part for part in cmdline) and \
                        os.getsid(int(entry.name)) == int(entry.name):
                    servers.roots.append(int(entry.name))
        if len(servers.roots) != len(commands):
            raise SystemExit(f"Found {len(servers.roots)} of the {len(commands)} uvicorn processes started.")
        yield servers


# --- the other CPU on the path: PostgreSQL backends and Redis -------------------------------------------


class Meters:
    """CPU seconds of the servers, their PostgreSQL backends, Redis and the whole machine, read together."""

    def __init__(self, servers: Servers) -> None:
        import redis
        from django.conf import settings

        self.servers = servers
        self.redis = redis.Redis.from_url(settings.REDIS_URL)
        from django.db import connection

        # Its own connection: the bench's Django connection must not be open when clients fork.
        self.database = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        self.name = connection.settings_dict["NAME"]
        self.backends_seen: dict[int, float] = {}

    def read(self) -> dict[str, float]:
        cpu = self.redis.info("cpu")
        pids = [row[0] for row in self.database.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.name])]
        # A backend that ended between readings keeps the last figure read, so none goes backwards.
        for pid in pids:
            self.backends_seen[pid] = harness.process_cpu_seconds(pid) or self.backends_seen.get(pid, 0.0)
        return {"servers": self.servers.cpu_seconds(), "postgres": sum(self.backends_seen.values()),
                "redis": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
                "machine": harness.machine_busy_seconds(), "wall": time.monotonic()}


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in after}


# --- the clients (forked processes, asyncio) ------------------------------------------------------------


@dataclass
class Stage:
    name: str
    rate: float | None  # total messages/s offered; None: flat out
    seconds: float
    measured: bool = True


@dataclass
class StageResult:
    sent: int = 0
    acked: int = 0
    received: int = 0
    lost: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    client_cpu: float = 0.0
    seconds: float = 0.0

    def add(self, other: StageResult) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.received += other.received
        self.lost += other.lost
        self.latencies_ms += other.latencies_ms
        self.send_lag_ms += other.send_lag_ms
        self.errors.update(other.errors)
        self.client_cpu += other.client_cpu
        self.seconds = max(self.seconds, other.seconds)


def connect_kwargs(port: int, args: argparse.Namespace) -> dict[str, Any]:
    return {"origin": f"http://127.0.0.1:{port}", "ping_interval": None, "open_timeout": 60, "close_timeout": 2,
            "compression": "deflate" if args.deflate else None, "max_queue": None}


def client_main(role: str, shard: Any, args: argparse.Namespace, ports: list[int], barrier: Any,
                results: Any) -> None:
    """A forked client process: run one role's coroutine under uvloop; its result goes on `results`."""
    import uvloop

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; Ctrl-C reaches it too
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        result = uvloop.run((load_client if role == "load" else idle_client)(shard, args, ports, barrier))
    except BaseException as exc:  # reported, so the parent never waits for a report that will not come
        print(f"The {role} client failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        barrier.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}"[:500]))
        raise SystemExit(1) from None
    results.put(("ok", result))


async def in_executor(function: Any, *call_args: Any) -> Any:
    """A blocking call (the barrier) off the event loop, so sockets keep being read meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *call_args)


async def load_client(shard: dict[str, Any], args: argparse.Namespace, ports: list[int], barrier: Any
                      ) -> dict[str, StageResult]:
    from django.conf import settings
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    stages: list[Stage] = shard["stages"]
    tag = shard["tag"]
    sent_at: dict[str, tuple[int, float]] = {}  # client_id -> (stage, monotonic send time)
    results = [StageResult() for _ in stages]
    current = 0
    ack_waiters: dict[int, asyncio.Future] = {}

    async def agent_reader(ws: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            await agent_frames(ws)
        results[current].errors["agent: socket closed by the server"] += 1

    async def agent_frames(ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "chat.message" and frame.get("direction") == "in":
                entry = sent_at.pop(frame.get("client_id"), None)
                if entry is not None:
                    results[entry[0]].received += 1
                    results[entry[0]].latencies_ms.append((time.monotonic() - entry[1]) * 1000)
            elif frame.get("type") == "error":
                results[current].errors[f"agent: {frame.get('code')}"] += 1

    async def customer_reader(index: int, ws: Any) -> None:
        with contextlib.suppress(ConnectionClosed):
            await customer_frames(index, ws)
        results[current].errors["customer: socket closed by the server"] += 1

    async def customer_frames(index: int, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "ack":
                results[current].acked += 1
            elif kind == "error":
                results[current].errors[f"customer: {frame.get('code')}"] += 1
            else:
                continue
            waiter = ack_waiters.pop(index, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    cookie = f"{settings.SESSION_COOKIE_NAME}="
    agent_sockets, customer_sockets, readers = [], [], []
    limit = asyncio.Semaphore(50)

    async def open_socket(url: str, port: int, **extra: Any) -> Any:
        async with limit:
            return await connect(url, **connect_kwargs(port, args), **extra)

    agent_sockets = await asyncio.gather(*[
        open_socket(f"ws://127.0.0.1:{ports[n % len(ports)]}/ws/agent/", ports[n % len(ports)],
                    additional_headers={"Cookie": cookie + key}) for n, (_, key) in enumerate(shard["agents"])])
    customer_sockets = await asyncio.gather(*[
        open_socket(f"ws://127.0.0.1:{ports[n % len(ports)]}/ws/chat/?token={token}", ports[n % len(ports)])
        for n, token in enumerate(shard["customers"])])
    for ws in customer_sockets:  # each widget says it is ready once it follows its chat
        ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if ready.get("type") != "ready" or not ready.get("conversation"):
            raise RuntimeError(f"A customer socket did not get its chat: {ready}")
    readers = [asyncio.create_task(agent_reader(ws)) for ws in agent_sockets]
    readers += [asyncio.create_task(customer_reader(n, ws)) for n, ws in enumerate(customer_sockets)]
    await in_executor(barrier.wait, 120)  # everyone connected

    counter = itertools.count()

    def frame(stage_index: int) -> tuple[str, str]:
        client_id = f"{tag}.{stage_index}.{next(counter)}"
        return client_id, json.dumps({"type": "message", "body": f"Hello, where is my order? ({client_id})",
                                      "client_id": client_id})

    async def send(ws: Any, client_id: str, text: str, stage_index: int) -> bool:
        """A socket the server closed counts as an error (and its message as lost), not as the end of the run."""
        try:
            await ws.send(text)
        except ConnectionClosed:
            results[stage_index].errors["customer: send on a closed socket"] += 1
            return False
        return True

    async def paced(stage_index: int, rate: float, seconds: float) -> None:
        """Sends at `rate` per second, round-robin over the customers; every due send at each wake."""
        interval, n, number = 1.0 / rate, len(customer_sockets), 0
        began = time.monotonic()
        while True:
            scheduled = began + number * interval
            if scheduled >= began + seconds:
                break
            now = time.monotonic()
            if scheduled > now:
                await asyncio.sleep(scheduled - now)
                now = time.monotonic()
            results[stage_index].send_lag_ms.append((now - scheduled) * 1000)
            client_id, text = frame(stage_index)
            sent_at[client_id] = (stage_index, time.monotonic())
            results[stage_index].sent += 1
            number += 1
            await send(customer_sockets[(number - 1) % n], client_id, text, stage_index)

    async def flat_out(stage_index: int, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        ends = time.monotonic() + seconds

        async def customer(index: int, ws: Any) -> None:
            while time.monotonic() < ends:
                waiter = ack_waiters[index] = loop.create_future()
                client_id, text = frame(stage_index)
                sent_at[client_id] = (stage_index, time.monotonic())
                results[stage_index].sent += 1
                if not await send(ws, client_id, text, stage_index):
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter, 30)

        await asyncio.gather(*[customer(n, ws) for n, ws in enumerate(customer_sockets)])

    for index, stage in enumerate(stages):
        await in_executor(barrier.wait, 120)
        current = index
        cpu, began = time.process_time(), time.monotonic()
        if stage.rate is None:
            await flat_out(index, stage.seconds)
        else:
            await paced(index, stage.rate / shard["clients"], stage.seconds)
        results[index].seconds = time.monotonic() - began
        # Drain: what is still on its way gets up to 10 s more; whatever never arrives is lost.
        deadline = time.monotonic() + 10
        while any(entry[0] == index for entry in sent_at.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for client_id in [cid for cid, entry in sent_at.items() if entry[0] == index]:
            del sent_at[client_id]
            results[index].lost += 1
        results[index].client_cpu = time.process_time() - cpu
        await in_executor(barrier.wait, 120)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in [*agent_sockets, *customer_sockets]), return_exceptions=True)
    return {stage.name: result for stage, result in zip(stages, results, strict=True)}


async def idle_client(shard: dict[str, Any], args: argparse.Namespace, ports: list[int], barrier: Any
                      ) -> dict[str, Any]:
    """Opens its share of idle widgets in two halves (a barrier after each, for the RSS readings),
    then has every one answer a frame and a sample receive a push, and reports what it saw."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    sockets: dict[int, Any] = {}  # conversation id -> socket
    answered: set[int] = set()
    pushed: set[int] = set()
    failures: Counter = Counter()
    limit = asyncio.Semaphore(args.connect_concurrency)

    async def reader(conversation_id: int, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "error" and frame.get("code") == "unknown_type":
                    answered.add(conversation_id)
                elif frame.get("type") == "chat.message" and frame.get("client_id") == "bench-push":
                    pushed.add(conversation_id)

    async def open_one(number: int, conversation_id: int, token: str) -> None:
        port = ports[number % len(ports)]
        async with limit:
            try:
                ws = await connect(f"ws://127.0.0.1:{port}/ws/chat/?token={token}", **connect_kwargs(port, args))
                ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
            except Exception as exc:
                failures[type(exc).__name__] += 1
                return
        if ready.get("type") != "ready" or (ready.get("conversation") or {}).get("id") != conversation_id:
            failures[f"not ready: {str(ready)[:80]}"] += 1
            return
        sockets[conversation_id] = ws
        tasks.append(asyncio.create_task(reader(conversation_id, ws)))

    tasks: list[asyncio.Task] = []
    half = len(shard["idle"]) // 2
    opened_at = []
    for part in (shard["idle"][:half], shard["idle"][half:]):
        began = time.monotonic()
        await asyncio.gather(*[open_one(n, cid, token) for n, (cid, token) in enumerate(part)])
        opened_at.append(time.monotonic() - began)
        await in_executor(barrier.wait, 600)  # the parent reads the servers' RSS
    for ws in sockets.values():
        try:
            await ws.send('{"type":"ping"}')
        except ConnectionClosed:  # counted below: not still open, not answered
            pass
    await in_executor(barrier.wait, 600)  # the parent pushes to the sample's groups meanwhile
    deadline = time.monotonic() + 30
    sample = set(shard["sample"])
    while (len(answered) < len(sockets) or not sample <= pushed) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    still_open = sum(1 for ws in sockets.values() if ws.state.name == "OPEN")
    result = {"opened": len(sockets), "still_open": still_open, "answered": len(answered),
              "sample": len(sample), "pushed": len(sample & pushed), "failures": failures,
              "open_seconds": opened_at}
    await in_executor(barrier.wait, 600)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets.values()), return_exceptions=True)
    return result


@contextlib.contextmanager
def clients(role: str, shards: Sequence[Any], args: argparse.Namespace, ports: list[int]):
    """Forked client processes (the Django settings are loaded; no database connection crosses)."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(shards) + 1)
    results = context.Queue()
    started = [context.Process(target=client_main, args=(role, shard, args, ports, barrier, results), daemon=True)
               for shard in shards]
    for process in started:
        process.start()

    def collect() -> list[Any]:
        outcomes = []
        for _ in started:
            status, outcome = results.get(timeout=600)
            if status != "ok":
                raise SystemExit(f"A {role} client failed: {outcome}")
            outcomes.append(outcome)
        return outcomes

    try:
        yield barrier, collect, started
    finally:
        for process in started:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()


def barrier_wait(barrier: Any, timeout: float) -> None:
    try:
        barrier.wait(timeout)
    except threading.BrokenBarrierError:
        raise SystemExit("A client process failed or stalled (see above); stopping.") from None


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
