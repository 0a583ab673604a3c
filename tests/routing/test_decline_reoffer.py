"""A declined item nobody else takes goes back to the agent who declined it after a pause
(ROUTING_DECLINE_PAUSE_SECONDS), with or without the beat, rather than waiting for its
escalation. Time moves by moving the services' clock (`timezone.now`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from routing import services
from routing.models import AgentProfile, ItemState, Presence, Queue, RoutingRule, WorkItem
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db


def online_agent() -> AgentProfile:
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"],
                                  capacity={"chat": 2, "messaging": 0, "email": 0, "voice": 0})
    return services.presence_set(user=profile.user, presence=Presence.ONLINE)


@pytest.fixture
def chat_es() -> Queue:
    # A target far away: escalation (which forgets who declined) plays no part here.
    queue = Queue.objects.create(key="chat.es", name="Chat ES", offer_timeout_seconds=30,
                                 target_wait_seconds=3600)
    RoutingRule.objects.create(name="chat by language", position=10, queue_key="chat.{language}",
                               condition={"attribute": "channel", "op": "eq", "value": "chat"})
    return queue


@pytest.fixture
def clock(monkeypatch) -> Callable[[float], None]:
    """Move the services' clock forward by some seconds."""
    real_now = timezone.now
    offset = [0.0]
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=offset[0]))

    def forward(seconds: float) -> None:
        offset[0] += seconds
    return forward


def enqueue(conversation_id: int) -> WorkItem:
    return services.work_item_enqueue(conversation_id=conversation_id, channel="chat",
                                      attributes={"language": "es", "contact_kind": "customer"})


def declined_by_the_only_agent(settings) -> tuple[AgentProfile, WorkItem]:
    settings.ROUTING_DECLINE_PAUSE_SECONDS = 30
    agent = online_agent()
    item = enqueue(1)
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk
    services.offer_decline(item_id=item.pk, user=agent.user)
    item.refresh_from_db()
    assert item.state == ItemState.WAITING and agent.pk in item.declined_by
    return agent, item


def test_without_the_beat_the_decliners_heartbeat_after_the_pause_offers_it_again(chat_es, settings, clock):
    agent, item = declined_by_the_only_agent(settings)

    clock(10)  # within the pause: not back yet
    services.heartbeat(user=agent.user)
    item.refresh_from_db()
    assert item.state == ItemState.WAITING

    clock(25)  # 35 s after the decline
    services.heartbeat(user=agent.user)
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk


def test_the_sweep_after_the_pause_offers_it_again(chat_es, settings, clock):
    agent, item = declined_by_the_only_agent(settings)

    services.routing_sweep()
    item.refresh_from_db()
    assert item.state == ItemState.WAITING

    clock(31)
    services.routing_sweep()
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk


def test_within_the_pause_another_agent_gets_it_first(chat_es, settings, clock):
    agent, item = declined_by_the_only_agent(settings)

    clock(5)
    other = online_agent()
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == other.pk


def test_declining_again_starts_a_new_pause(chat_es, settings, clock):
    agent, item = declined_by_the_only_agent(settings)
    clock(31)
    services.routing_sweep()
    item.refresh_from_db()
    assert item.agent_id == agent.pk

    services.offer_decline(item_id=item.pk, user=agent.user)
    clock(10)
    services.routing_sweep()
    item.refresh_from_db()
    assert item.state == ItemState.WAITING

    clock(25)
    services.routing_sweep()
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk


def test_an_agent_who_transferred_it_away_does_not_get_it_back_after_the_pause(chat_es, settings, clock):
    settings.ROUTING_DECLINE_PAUSE_SECONDS = 30
    agent = online_agent()
    item = enqueue(1)
    services.offer_accept(item_id=item.pk, user=agent.user)
    other_queue = Queue.objects.create(key="chat.es.2", name="Chat ES 2", target_wait_seconds=3600)
    services.work_item_transfer(item_id=item.pk, user=agent.user, queue_key=other_queue.key)

    clock(60)
    services.routing_sweep()
    services.heartbeat(user=agent.user)
    item.refresh_from_db()
    assert item.state == ItemState.WAITING and item.agent_id is None
