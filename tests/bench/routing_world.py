"""The routing benchmark's world (tests/bench/routing.py): its own database, agents online
and their slots, the queues and rules, and the waiting backlog, written in bulk as the
services would write them."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.bench import harness

DATABASE = "bench_routing"
LANGUAGES = ("en", "es", "ca", "it", "pt", "fr", "pl", "ro", "uk", "ka", "kk", "ky", "hr")
KIND_WEIGHTS = {"customer": 6, "courier": 3, "partner": 1}  # of the arriving items
SKILLS = ("refunds", "vip", "fraud")
BACKLOG_SKILL = "backlog"  # required by the backlog queue; no agent holds it
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
    from supportdesk.models import OutboxEntry

    return [model._meta.db_table for model in (AgentSlot, WorkItemEvent, WorkItem, AgentProfile, RoutingRule,
                                                Queue, RoutingAudit, OutboxEntry, get_user_model())]


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
