"""The live-chat benchmark's world and servers (tests/bench/livechat.py): its database and
population, the uvicorn processes started and found, and the CPU meters read around each stage."""

from __future__ import annotations

import argparse
import contextlib
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

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
    from supportdesk.models import OutboxEntry
    from timeline.models import Contact

    models = (Message, Conversation, WorkItemEvent, WorkItem, AgentSlot, AgentProfile, Queue, Contact,
              OutboxEntry, Session, get_user_model())
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
