"""Tasks: a conversation on channel "task", opened in a named queue, idempotent on its key."""

from __future__ import annotations

import pytest

from conversations import services
from conversations.models import Channel, Conversation, Message, MessageDirection
from routing.models import ItemState, Queue, WorkItem
from supportdesk.errors import NotFound
from tests.factories import AgentProfileFactory, ContactFactory
from tests.scenarios import online_agent
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def test_task_opens_in_the_queue_and_routes_to_an_agent_with_task_capacity() -> None:
    Queue.objects.create(key="service_audit", name="Service audit")
    # A profile saved before the task channel existed has no "task" key: it takes the default.
    profile = online_agent(AgentProfileFactory(capacity={"chat": 3}).user, capacity={"chat": 3})
    assert profile.capacity_for("task") == 5
    contact = ContactFactory()

    task = services.task_open(contact_id=contact.pk, queue_key="service_audit", subject="Audit",
                              body="Check the last three orders.", idempotency_key="wf:1:C1",
                              actor="workflow:1")

    assert task.channel == Channel.TASK and not task.replayed
    item = WorkItem.objects.get(conversation_id=task.pk)
    assert item.queue.key == "service_audit" and item.channel == "task"
    assert item.state in (ItemState.OFFERED, ItemState.ASSIGNED) and item.agent_id == profile.pk
    note = Message.objects.get(conversation=task)
    assert note.direction == MessageDirection.NOTE and note.body == "Check the last three orders."
    opened = TimelineEvent.objects.get(contact=contact, kind="conversation.opened")
    assert opened.actor == "workflow:1" and opened.payload["channel"] == "task"


def test_task_open_is_idempotent_on_its_key() -> None:
    Queue.objects.create(key="service_audit", name="Service audit")
    contact = ContactFactory()
    kwargs = {"contact_id": contact.pk, "queue_key": "service_audit", "subject": "Audit",
              "body": "Look", "actor": "workflow:1"}
    first = services.task_open(idempotency_key="same-key", **kwargs)
    again = services.task_open(idempotency_key="same-key", **kwargs)
    other = services.task_open(idempotency_key="other-key", **kwargs)
    assert again.pk == first.pk and again.replayed
    assert other.pk != first.pk
    assert Conversation.objects.filter(contact=contact).count() == 2
    assert WorkItem.objects.filter(conversation_id__in=[first.pk, other.pk]).count() == 2


def test_task_in_an_unknown_queue_is_refused_and_leaves_nothing() -> None:
    contact = ContactFactory()
    with pytest.raises(NotFound):
        services.task_open(contact_id=contact.pk, queue_key="nope", subject="", body="x",
                           idempotency_key="k", actor="system")
    assert not Conversation.objects.filter(contact=contact).exists()
