"""The engine is the specification of what the SQL decides (STYLE 5b): the same random
agents and items, stored in PostgreSQL, get the same ranking of agents from the slot index
(`slot_candidates`) as from `engine.agents_rank`, and the same waiting item from the pull's
query (`_waiting_for`) as from `engine.item_pick`; the dry run ranks as the matcher does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from routing import engine, selectors, services
from routing.models import AgentProfile, AgentSlot, ItemState, Presence, Queue, Strategy, WorkItem
from routing.services import claims, matching

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LANGUAGES = ("es", "en")
SKILLS = ("refunds", "vip", "fraud")
PAUSE = 30

skill_sets = st.sets(st.sampled_from(SKILLS))
# Times on a coarse grid (ties), with microseconds sometimes (a float timestamp loses them).
times = st.none() | st.builds(lambda minutes, micro: NOW - timedelta(minutes=minutes, microseconds=micro),
                              st.integers(0, 5), st.sampled_from([0, 1, 2]))
agents = st.lists(st.fixed_dictionaries({
    "languages": st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=2, unique=True),
    "skills": skill_sets, "tier": st.integers(1, 3),
    "capacity": st.integers(0, 45), "load": st.integers(0, 4),
    "presence": st.sampled_from([Presence.ONLINE, Presence.ONLINE, Presence.AWAY]),
    "last_assigned_at": times,
}), min_size=1, max_size=8)
items = st.fixed_dictionaries({
    "language": st.sampled_from(LANGUAGES), "required": skill_sets, "optional": skill_sets,
    "relaxed": st.booleans(), "min_tier": st.integers(1, 3), "priority": st.integers(0, 3),
    "enqueued_minutes_ago": st.integers(0, 5), "declined": st.lists(st.integers(0, 7), max_size=2),
    "declined_seconds_ago": st.none() | st.sampled_from([0, PAUSE - 1, PAUSE, PAUSE + 1]),
    "queue": st.integers(0, 1),
})


def reset() -> list[Queue]:
    WorkItem.objects.all().delete()
    AgentSlot.objects.all().delete()
    AgentProfile.objects.all().delete()
    get_user_model().objects.all().delete()
    Queue.objects.all().delete()
    # Far targets and no relax wait: no service-level step is due (the steps have their own
    # tests); the queues differ in priority.
    return [Queue.objects.create(key=f"q{n}", name=f"Q{n}", priority=priority, target_wait_seconds=86400)
            for n, priority in enumerate((50, 70))]


def agents_build(rows: list[dict], queue: Queue) -> list[AgentProfile]:
    profiles = []
    for n, row in enumerate(rows):
        user = get_user_model().objects.create(username=f"agent{n}")
        profile = AgentProfile.objects.create(
            user=user, languages=row["languages"], contact_kinds=["customer"], skills=sorted(row["skills"]),
            tier=row["tier"], capacity={"chat": row["capacity"]}, presence=row["presence"],
            last_assigned_at=row["last_assigned_at"])
        for number in range(min(row["load"], row["capacity"])):  # what they hold
            WorkItem.objects.create(
                conversation_id=1000 * (n + 1) + number, channel="chat", language=row["languages"][0],
                contact_kind="customer", queue=queue, queue_priority=queue.priority, state=ItemState.ASSIGNED,
                agent=profile, enqueued_at=NOW, queued_at=NOW, assigned_at=NOW)
        services.agent_slots_rebuild(profile)
        profiles.append(profile)
    return profiles


def item_build(row: dict, queues: list[Queue], profiles: list[AgentProfile], number: int) -> WorkItem:
    queue = queues[row["queue"]]
    declined = sorted({profiles[i % len(profiles)].pk for i in row["declined"]})
    enqueued = NOW - timedelta(minutes=row["enqueued_minutes_ago"])
    return WorkItem.objects.create(
        conversation_id=number, channel="chat", language=row["language"], contact_kind="customer",
        queue=queue, queue_priority=queue.priority, priority=row["priority"],
        required_skills=sorted(row["required"]), optional_skills=sorted(row["optional"] - row["required"]),
        optional_relaxed=row["relaxed"], min_agent_tier=row["min_tier"], declined_by=declined,
        declined_at=None if row["declined_seconds_ago"] is None or not declined
        else NOW - timedelta(seconds=row["declined_seconds_ago"]),
        enqueued_at=enqueued, queued_at=enqueued)


def engine_agents(profiles: list[AgentProfile]) -> list[engine.Agent]:
    """The agents as the engine sees them, their last assignment the one on the channel."""
    loads = selectors.agents_load(agent_ids=[p.pk for p in profiles])
    idle_since = dict(AgentSlot.objects.filter(channel="chat").values_list("agent_id", "last_assigned_at"))
    return [engine.Agent(**{**vars(claims.engine_agent(p, loads.get(p.pk, {}))),
                            "last_assigned_at": idle_since.get(p.pk, p.last_assigned_at)})
            for p in profiles]


@override_settings(ROUTING_DECLINE_PAUSE_SECONDS=PAUSE)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(agent_rows=agents, item_row=items,
       strategy=st.sampled_from([Strategy.MOST_SPARE_CAPACITY, Strategy.LONGEST_IDLE, Strategy.ROUND_ROBIN]))
# Shares a thousandth apart tie in the slot index (spare_permille): the longer idle goes first.
@example(agent_rows=[
    {"languages": ["es"], "skills": set(), "tier": 1, "capacity": 41, "load": 1, "presence": Presence.ONLINE,
     "last_assigned_at": NOW},
    {"languages": ["es"], "skills": set(), "tier": 1, "capacity": 40, "load": 1, "presence": Presence.ONLINE,
     "last_assigned_at": None},
], item_row={"language": "es", "required": set(), "optional": set(), "relaxed": False, "min_tier": 1,
             "priority": 0, "enqueued_minutes_ago": 0, "declined": [], "declined_seconds_ago": None, "queue": 0},
   strategy=Strategy.MOST_SPARE_CAPACITY)
def test_the_slot_index_ranks_agents_as_the_engine_does(agent_rows, item_row, strategy):
    queues = reset()
    profiles = agents_build(agent_rows, queues[0])
    item = item_build(item_row, queues, profiles, number=1)

    by_sql = claims.slot_candidates(item, strategy=strategy, limit=100, now=NOW)
    by_engine = engine.agents_rank(engine_agents(profiles), claims.engine_item(item, now=NOW), strategy=strategy)
    assert by_sql == [agent.id for agent in by_engine]


@override_settings(ROUTING_DECLINE_PAUSE_SECONDS=PAUSE)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(agent_row=agents.map(lambda rows: rows[0]), item_rows=st.lists(items, min_size=1, max_size=10))
def test_the_pull_picks_the_waiting_item_the_engine_picks(agent_row, item_rows):
    queues = reset()
    # Online with room: the pull asks only then (`claims.room`).
    row = {**agent_row, "presence": Presence.ONLINE, "load": 0, "capacity": max(agent_row["capacity"], 1)}
    [profile] = agents_build([row], queues[0])
    waiting = [item_build(row, queues, [profile], number=n + 1) for n, row in enumerate(item_rows)]

    by_sql = matching._waiting_for(profile, "chat", now=NOW)
    [agent] = engine_agents([profile])
    pool = [engine.Waiting(item=claims.engine_item(item, now=NOW), queue_priority=item.queue_priority)
            for item in waiting]
    by_engine = []
    while (picked := engine.item_pick(agent, pool)) is not None and len(by_engine) < len(by_sql) + 1:
        by_engine.append(picked.id)
        pool = [w for w in pool if w.item.id != picked.id]
    # The query reads a few candidates at a time; the engine's order continues it.
    assert by_sql == by_engine[:services.CANDIDATES]


@pytest.mark.parametrize("strategy", [Strategy.MOST_SPARE_CAPACITY, Strategy.LONGEST_IDLE])
def test_the_dry_run_ranks_first_the_agent_the_matcher_offers_the_item_to(strategy):
    Queue.objects.create(key="general", name="General", strategy=strategy)
    idle = [NOW - timedelta(minutes=1), None, NOW - timedelta(minutes=5)]
    profiles = []
    for n, (capacity, last) in enumerate(zip((4, 2, 3), idle, strict=True)):
        user = get_user_model().objects.create(username=f"dry{n}")
        AgentProfile.objects.create(user=user, languages=["es"], contact_kinds=["customer"],
                                    capacity={"chat": capacity}, last_assigned_at=last)
        profiles.append(services.presence_set(user=user, presence=Presence.ONLINE))
    # One agent holds an item already, so spare capacity differs too.
    first = services.work_item_enqueue(conversation_id=1, channel="chat", attributes={"language": "es"})
    assert first.agent_id is not None

    _, _, ranked = services.route_explain(channel="chat", attributes={"language": "es"})
    item = services.work_item_enqueue(conversation_id=2, channel="chat", attributes={"language": "es"})
    assert [agent.id for agent in ranked][0] == item.agent_id
    assert {agent.id for agent in ranked} == {p.pk for p in profiles}
