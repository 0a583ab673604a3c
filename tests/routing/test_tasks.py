"""The beat sweep: scheduled every few seconds, idempotent, and doing each of its jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from routing import services, tasks
from routing.models import AgentProfile, ItemState, Presence, Queue, WorkItem, WorkItemEvent
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db


def test_the_sweep_is_on_the_beat_every_few_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["routing-sweep"]
    assert entry["task"] == tasks.routing_sweep.name
    assert 0 < entry["schedule"] <= 5


def test_a_sweep_expires_offers_and_silent_agents_escalates_breaches_and_rematches(settings):
    settings.ROUTING_MISSED_OFFERS_AWAY = 5
    queue = Queue.objects.create(key="general", name="General", target_wait_seconds=60,
                                 optional_skills=["returns"])
    offered_to = services.presence_set(
        user=AgentProfileFactory(languages=["es"], contact_kinds=["customer"], capacity={"chat": 1}).user,
        presence=Presence.ONLINE)
    offered = services.work_item_enqueue(conversation_id=1, channel="chat",
                                         attributes={"language": "es"})
    assert offered.state == ItemState.WAITING  # optional skill "returns": nobody yet
    WorkItem.objects.filter(pk=offered.pk).update(enqueued_at=timezone.now() - timedelta(seconds=61))
    silent = services.presence_set(
        user=AgentProfileFactory(languages=["en"], contact_kinds=["customer"]).user, presence=Presence.ONLINE)
    AgentProfile.objects.filter(pk=silent.pk).update(
        last_heartbeat_at=timezone.now() - timedelta(seconds=settings.ROUTING_HEARTBEAT_TIMEOUT_SECONDS + 1))

    first = tasks.routing_sweep.apply().get()

    offered.refresh_from_db()
    silent.refresh_from_db()
    assert first["escalated"] == 1 and first["agents_expired"] == 1
    assert offered.state == ItemState.OFFERED and offered.agent_id == offered_to.pk
    # Placed past its target: the breach is recorded once, when it reached the agent.
    assert offered.sla_breached_at is not None and silent.presence == Presence.OFFLINE
    assert offered.events.filter(kind="breached").count() == 1
    assert queue.pk == offered.queue_id

    WorkItem.objects.filter(pk=offered.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    events_before = WorkItemEvent.objects.count()
    second = tasks.routing_sweep.apply().get()
    assert second["offers_expired"] == 1
    offered.refresh_from_db()
    assert offered.state == ItemState.WAITING and offered_to.pk in offered.declined_by

    third = tasks.routing_sweep.apply().get()  # nothing left to do: changes nothing
    assert all(count == 0 for count in third.values())
    assert WorkItemEvent.objects.count() == events_before + 1  # the one "expired"
