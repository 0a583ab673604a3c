"""Routing selectors against the real database: the supervisors' queue figures."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routing import selectors, services
from routing.models import AgentProfile, ItemState, Presence, Queue, RoutingRule, WorkItem
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db


def agent(presence: str = Presence.ONLINE, **fields) -> AgentProfile:
    defaults = {"languages": ["es"], "contact_kinds": ["customer"], "capacity": {"chat": 1}}
    profile = AgentProfileFactory(**{**defaults, **fields})
    # Setting the presence (offline too) writes the agent's slots, as in production.
    return services.presence_set(user=profile.user, presence=presence)


def enqueue(conversation_id: int, **attributes) -> WorkItem:
    return services.work_item_enqueue(
        conversation_id=conversation_id, channel="chat",
        attributes={"language": "es", "contact_kind": "customer", **attributes},
    )


def accept(item: WorkItem) -> None:
    item.refresh_from_db()
    services.offer_accept(item_id=item.pk, user=AgentProfile.objects.get(pk=item.agent_id).user)


def timed(item: WorkItem, *, enqueued_at: datetime, reached_at: datetime | None = None,
          **fields) -> None:
    """Put an item (and the moment it reached its agent) where the scenario wants it in time."""
    if reached_at is not None:
        fields["answered_at"] = reached_at
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=enqueued_at, queued_at=enqueued_at, **fields)


@pytest.fixture
def noon() -> datetime:
    """Figures are asked for at noon today, so "today" is the same day whenever the suite runs."""
    return selectors.day_start(timezone.now()) + timedelta(hours=12)


@pytest.fixture
def queues() -> dict[str, Queue]:
    chat_es = Queue.objects.create(key="chat.es", name="Chat ES", priority=50, target_wait_seconds=60)
    vip = Queue.objects.create(key="vip", name="VIP", priority=90, target_wait_seconds=60,
                               required_skills=["vip"], min_agent_tier=2)
    quiet = Queue.objects.create(key="quiet", name="Quiet", priority=10)
    Queue.objects.create(key="retired", name="Retired", is_active=False)
    RoutingRule.objects.create(name="vip customers", position=5, queue_key="vip",
                               condition={"attribute": "custom.vip", "op": "eq", "value": True})
    RoutingRule.objects.create(name="chat by language", position=10, queue_key="chat.{language}",
                               condition={"attribute": "channel", "op": "eq", "value": "chat"})
    return {"chat.es": chat_es, "vip": vip, "quiet": quiet}


def test_queue_figures_on_a_small_day(queues, noon):
    # Given two busy agents (one senior with the vip skill), each holding an accepted item:
    senior = agent(tier=2, skills=["vip"])
    junior = agent()
    answered_in_time, answered_late = enqueue(1), enqueue(2)
    accept(answered_in_time)
    accept(answered_late)
    # couriers nobody serves, waiting long and briefly:
    waiting_long, waiting_briefly = enqueue(3, contact_kind="courier"), enqueue(4, contact_kind="courier")
    # a vip item the busy senior cannot take yet:
    vip_waiting = enqueue(5, **{"custom.vip": True})
    # an agent with room, offered one item; one offline, one who speaks only French:
    with_room = agent(capacity={"chat": 2})
    offered = enqueue(6)
    agent(presence=Presence.OFFLINE)
    agent(languages=["fr"])
    # a courier who left before the target, and an item from yesterday:
    abandoned = enqueue(7, contact_kind="courier")
    services.work_item_cancel(item_id=abandoned.pk)
    yesterday = enqueue(8, contact_kind="courier")
    services.work_item_cancel(item_id=yesterday.pk)

    ten_minutes_ago = noon - timedelta(minutes=10)
    timed(answered_in_time, enqueued_at=ten_minutes_ago, reached_at=ten_minutes_ago + timedelta(seconds=30))
    timed(answered_late, enqueued_at=ten_minutes_ago, reached_at=ten_minutes_ago + timedelta(seconds=90),
          sla_breached_at=ten_minutes_ago + timedelta(seconds=90))
    timed(waiting_long, enqueued_at=noon - timedelta(seconds=300),
          sla_breached_at=noon - timedelta(seconds=240))
    timed(waiting_briefly, enqueued_at=noon - timedelta(seconds=20))
    timed(vip_waiting, enqueued_at=noon - timedelta(seconds=30))
    timed(offered, enqueued_at=noon - timedelta(seconds=15))
    timed(abandoned, enqueued_at=noon - timedelta(minutes=8),
          completed_at=noon - timedelta(minutes=8) + timedelta(seconds=10))
    timed(yesterday, enqueued_at=noon - timedelta(days=1), completed_at=noon - timedelta(days=1),
          sla_breached_at=noon - timedelta(days=1))

    # When
    stats = {row["key"]: row for row in selectors.queue_stats(now=noon)}

    # Then: active queues only, highest priority first
    assert list(stats) == ["vip", "chat.es", "quiet"]
    assert stats["chat.es"] == {
        "id": queues["chat.es"].pk, "key": "chat.es", "name": "Chat ES", "priority": 50, "target_wait_seconds": 60,
        "waiting": 2, "longest_wait_seconds": 300, "offered": 1, "assigned": 2,
        # senior, junior and the one with room; not the offline one nor the French speaker
        "agents_online": 3, "agents_at_capacity": 2,
        # in time / (in time + answered late + waiting past the target); the brief waits,
        # the open offer within target and the early abandon do not count yet
        "service_level_today": round(1 / 3, 4),
        "breached_today": 2,
        # answered after 30 s and 90 s; the courier who left after 10 s abandoned, of the
        # three whose wait ended (two answered, one abandoned): the rest still wait
        "answer_seconds_today": 60.0, "abandoned_today": 1, "abandonment_today": round(1 / 3, 4),
    }
    assert offered.agent_id == with_room.pk
    assert {senior.pk, junior.pk} == {answered_in_time.agent_id, answered_late.agent_id}
    # Only the senior holds the vip skill and tier, and has no room.
    assert stats["vip"] == {
        "id": queues["vip"].pk, "key": "vip", "name": "VIP", "priority": 90, "target_wait_seconds": 60,
        "waiting": 1, "longest_wait_seconds": 30, "offered": 0, "assigned": 0,
        "agents_online": 1, "agents_at_capacity": 1, "service_level_today": None, "breached_today": 0,
        "answer_seconds_today": None, "abandoned_today": 0, "abandonment_today": None,
    }
    assert stats["quiet"] == {
        "id": queues["quiet"].pk, "key": "quiet", "name": "Quiet", "priority": 10, "target_wait_seconds": 60,
        "waiting": 0, "longest_wait_seconds": 0, "offered": 0, "assigned": 0,
        "agents_online": 0, "agents_at_capacity": 0, "service_level_today": None, "breached_today": 0,
        "answer_seconds_today": None, "abandoned_today": 0, "abandonment_today": None,
    }


def test_an_item_answered_in_time_and_later_requeued_still_met_its_target(queues, noon):
    holder = agent()
    item = enqueue(1)
    accept(item)
    timed(item, enqueued_at=noon - timedelta(minutes=10),
          reached_at=noon - timedelta(minutes=10) + timedelta(seconds=20))

    # The agent goes offline: the item waits again, long past the target.
    services.presence_set(user=holder.user, presence=Presence.OFFLINE)

    item.refresh_from_db()
    assert item.state == ItemState.WAITING and item.assigned_at is None
    row = next(row for row in selectors.queue_stats(now=noon) if row["key"] == "chat.es")
    assert row["service_level_today"] == 1.0
    assert row["waiting"] == 1 and row["longest_wait_seconds"] == 600
    assert (row["agents_online"], row["agents_at_capacity"]) == (0, 0)


def test_a_direct_assignment_reaches_the_agent_at_assignment(queues, noon):
    queues["chat.es"].assign_directly = True
    queues["chat.es"].save()
    agent()
    item = enqueue(1)
    timed(item, enqueued_at=noon - timedelta(minutes=5),
          reached_at=noon - timedelta(minutes=5) + timedelta(seconds=61))

    row = next(row for row in selectors.queue_stats(now=noon) if row["key"] == "chat.es")

    assert item.state == ItemState.ASSIGNED
    assert row["service_level_today"] == 0.0 and row["assigned"] == 1


def test_the_figures_cost_the_same_queries_for_one_queue_or_many(queues, noon):
    def stats_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            selectors.queue_stats(now=noon)
        return len(queries)

    agent()
    enqueue(1)
    few = stats_queries()
    for n in range(5):
        Queue.objects.create(key=f"extra.{n}", name=f"Extra {n}")
        enqueue(10 + n, contact_kind="courier")

    assert stats_queries() == few


def test_speed_of_answer_and_abandonment_today(queues, noon):
    # Given items enqueued in chat.es an hour before noon (nobody online: each is put in its end
    # state by hand), every wait in seconds:
    hour_ago = noon - timedelta(hours=1)

    def item(conversation_id: int, state: str, *, answered: int | None = None, closed: int | None = None,
             enqueued_at: datetime = hour_ago) -> None:
        timed(enqueue(conversation_id), enqueued_at=enqueued_at, state=state,
              reached_at=enqueued_at + timedelta(seconds=answered) if answered is not None else None,
              completed_at=enqueued_at + timedelta(seconds=closed) if closed is not None else None)

    item(1, ItemState.COMPLETED, answered=20, closed=300)  # answered in 20 s
    item(2, ItemState.ASSIGNED, answered=100)  # answered in 100 s, still with its agent
    item(3, ItemState.CANCELLED, answered=40, closed=90)  # answered in 40 s, the caller hung up later
    item(4, ItemState.CANCELLED, closed=4)  # left within 5 s: not counted at all
    item(5, ItemState.CANCELLED, closed=5)  # at 5 s, still within them
    item(6, ItemState.CANCELLED, closed=6)  # abandoned
    item(7, ItemState.CANCELLED, closed=200)  # abandoned
    item(8, ItemState.COMPLETED, closed=30)  # closed by the desk before an answer: ended, not abandoned
    item(9, ItemState.WAITING)  # still waiting: its wait has not ended
    item(10, ItemState.CANCELLED, closed=60, enqueued_at=noon - timedelta(days=1))  # yesterday's

    row = next(row for row in selectors.queue_stats(now=noon) if row["key"] == "chat.es")

    assert row["answer_seconds_today"] == pytest.approx((20 + 100 + 40) / 3)
    # abandoned: 6 and 7; ended: answered 1, 2, 3, abandoned 6, 7 and closed 8
    assert (row["abandoned_today"], row["abandonment_today"]) == (2, round(2 / 6, 4))
