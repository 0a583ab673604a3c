"""Routing's history kinds: one set of choices, written by the services, read by the copier."""

from __future__ import annotations

import pytest
from django.utils import timezone

from routing import services
from routing.models import ItemState, Presence, Queue, WorkItem, WorkItemEvent
from routing.services import events
from tests.factories import AgentProfileFactory
from timeline import events as timeline_events

pytestmark = pytest.mark.django_db


def test_the_kinds_the_timeline_shows_are_routing_kinds_and_the_ones_copied():
    # The timeline sits below routing and keeps its own strings; they must be the copier's.
    assert set(WorkItemEvent.CONTACT_HISTORY_KINDS) <= set(WorkItemEvent.Kind)
    assert {kind.value for kind in WorkItemEvent.CONTACT_HISTORY_KINDS} == set(timeline_events.ROUTING_KINDS)


def test_the_item_states_that_are_history_are_kinds():
    # A claim records the state it gave (offered, assigned), a close the one it ended in.
    for state in (ItemState.OFFERED, ItemState.ASSIGNED, ItemState.COMPLETED, ItemState.CANCELLED):
        assert WorkItemEvent.Kind(state.value)


def test_an_unknown_kind_is_refused():
    queue = Queue.objects.create(key="chat.es", name="Chat ES")
    item = WorkItem.objects.create(conversation_id=1, channel="chat", language="es", contact_kind="customer",
                                   queue=queue, queue_priority=queue.priority, enqueued_at=timezone.now(),
                                   queued_at=timezone.now())
    with pytest.raises(ValueError):
        events.event_record(item, "misspelt", at=timezone.now())
    assert not WorkItemEvent.objects.filter(item=item).exists()


def test_a_whole_item_life_records_only_known_kinds():
    Queue.objects.create(key="general", name="General")
    profile = AgentProfileFactory(languages=["en"], contact_kinds=["customer"])
    services.presence_set(user=profile.user, presence=Presence.ONLINE)
    item = services.work_item_enqueue(conversation_id=7, channel="chat", attributes={"language": "en"})
    services.offer_accept(item_id=item.pk, user=profile.user)
    services.work_item_complete(item_id=item.pk)
    recorded = list(WorkItemEvent.objects.filter(item_id=item.pk).order_by("at", "id")
                    .values_list("kind", flat=True))
    assert recorded == [WorkItemEvent.Kind.QUEUED, WorkItemEvent.Kind.OFFERED, WorkItemEvent.Kind.ACCEPTED,
                        WorkItemEvent.Kind.COMPLETED]
