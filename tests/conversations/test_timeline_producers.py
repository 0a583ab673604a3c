"""Conversations record what happens to them on the contact's timeline: assignments,
transfers, internal notes, and routing's own history, copied over in batches."""

from __future__ import annotations

import pytest

from conversations import services, tasks
from conversations.routing_history import ROUTING_HISTORY, routing_history_copy
from routing import services as routing
from routing.models import ItemState, Presence, Queue, WorkItem, WorkItemEvent
from supportdesk.models import OutboxEntry
from tests.factories import AgentProfileFactory, ContactFactory
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_profile():
    Queue.objects.create(key="general", name="General")
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"],
                                  user__first_name="Ana")
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    return profile


def _offered(contact):
    conversation = services.conversation_open(contact=contact, channel="chat")
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert item.state == ItemState.OFFERED  # the set-up reached the agent
    return conversation, item


def _timeline(contact, prefix: str = "") -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(contact=contact, kind__startswith=prefix).order_by("id"))


def test_accepting_an_offer_records_who_has_the_conversation(agent_profile):
    # given a chat offered to Ana
    contact = ContactFactory(preferred_language="es")
    conversation, item = _offered(contact)

    # when she accepts it
    services.offer_accept(item_id=item.pk, user=agent_profile.user)

    # then the contact's timeline says she has it, and who did it
    [assigned] = _timeline(contact, "conversation.assigned")
    assert assigned.payload == {"agent": "Ana"}
    assert (assigned.subject_type, assigned.subject_id) == ("conversation", conversation.pk)
    assert assigned.actor == f"user:{agent_profile.user_id}"


def test_a_transfer_to_a_queue_records_where_it_went(agent_profile):
    # given a conversation Ana holds
    Queue.objects.create(key="refunds", name="Refunds")
    contact = ContactFactory(preferred_language="es")
    conversation, item = _offered(contact)
    services.offer_accept(item_id=item.pk, user=agent_profile.user)

    # when she passes it to the refunds queue
    services.conversation_transfer(conversation_id=conversation.pk, user=agent_profile.user,
                                   queue_key="refunds")

    # then the timeline records the transfer to that queue
    [transferred] = _timeline(contact, "conversation.transferred")
    assert transferred.payload == {"to_queue": "refunds"}
    assert transferred.subject_id == conversation.pk


def test_a_transfer_to_an_agent_records_the_transfer_and_the_new_assignee(agent_profile):
    # given a conversation Ana holds, and an online colleague
    colleague = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], user__first_name="Bea")
    contact = ContactFactory(preferred_language="es")
    conversation, item = _offered(contact)
    services.offer_accept(item_id=item.pk, user=agent_profile.user)
    routing.presence_set(user=colleague.user, presence=Presence.ONLINE)

    # when she transfers it to the colleague
    services.conversation_transfer(conversation_id=conversation.pk, user=agent_profile.user,
                                   agent_user_id=colleague.user_id)

    # then the transfer names Bea, and Bea is now assigned
    [transferred] = _timeline(contact, "conversation.transferred")
    assert transferred.payload == {"to_agent": "Bea"}
    assert [event.payload["agent"] for event in _timeline(contact, "conversation.assigned")] == ["Ana", "Bea"]


def test_an_internal_note_records_its_author_and_first_200_characters(agent_profile):
    # given a conversation Ana holds
    contact = ContactFactory(preferred_language="es")
    conversation, item = _offered(contact)
    services.offer_accept(item_id=item.pk, user=agent_profile.user)

    # when she adds a long note
    body = "x" * 150 + "y" * 100
    services.note_add(conversation_id=conversation.pk, user=agent_profile.user, body=body)

    # then the timeline keeps who wrote it and the first 200 characters
    [note] = _timeline(contact, "conversation.note")
    assert note.payload == {"author": "Ana", "excerpt": body[:200]}
    assert note.subject_id == conversation.pk


def test_a_refused_note_records_nothing(agent_profile):
    contact = ContactFactory(preferred_language="es")
    conversation, item = _offered(contact)
    services.offer_accept(item_id=item.pk, user=agent_profile.user)

    with pytest.raises(services.DomainError):
        services.note_add(conversation_id=conversation.pk, user=agent_profile.user, body="   ")

    assert _timeline(contact, "conversation.note") == []


def test_routing_history_is_copied_to_the_timeline_once(agent_profile):
    # given a conversation routed, offered, accepted, transferred and resolved
    Queue.objects.create(key="refunds", name="Refunds")
    contact = ContactFactory(preferred_language="es")
    conversation, item = _offered(contact)
    services.offer_accept(item_id=item.pk, user=agent_profile.user)
    services.conversation_transfer(conversation_id=conversation.pk, user=agent_profile.user,
                                   queue_key="refunds")
    routing_kinds = list(WorkItemEvent.objects.order_by("id").values_list("kind", flat=True))
    assert {"queued", "offered", "accepted", "transferred"} <= set(routing_kinds)

    # when the copier runs twice
    first = tasks.routing_history_to_timeline()
    second = tasks.routing_history_to_timeline()

    # then the kept kinds were copied once, in routing's order, about this conversation
    copied = _timeline(contact, "routing.")
    kept = [kind for kind in routing_kinds if kind in {"queued", "assigned", "accepted", "transferred",
                                                        "breached", "completed"}]
    assert [event.kind for event in copied] == [f"routing.{kind}" for kind in kept]
    assert first == len(kept) and second == 0
    assert {event.subject_id for event in copied} == {conversation.pk}
    accepted = next(event for event in copied if event.kind == "routing.accepted")
    assert accepted.payload["agent"] == "Ana" and accepted.payload["queue"] == "general"
    assert not OutboxEntry.objects.filter(consumer=ROUTING_HISTORY).exists()  # all consumed


def test_the_copier_picks_up_only_what_is_new_since_its_last_run(agent_profile):
    # given the history of one conversation, already copied
    contact = ContactFactory(preferred_language="es")
    conversation, item = _offered(contact)
    routing_history_copy()
    before = len(_timeline(contact, "routing."))

    # when more happens (accepted, then resolved) and the copier runs again
    services.offer_accept(item_id=item.pk, user=agent_profile.user)
    services.conversation_status_set(conversation=conversation, status="resolved", changed_by=agent_profile.user)
    copied = routing_history_copy()

    # then only the new entries arrive
    kinds = [event.kind for event in _timeline(contact, "routing.")]
    assert before == 1 and kinds[0] == "routing.queued"
    assert kinds[1:] == ["routing.accepted", "routing.completed"]
    assert copied.handled == 2


def test_the_copier_works_in_batches(agent_profile):
    # given two conversations' histories
    first_contact = ContactFactory(preferred_language="es")
    second_contact = ContactFactory(preferred_language="es")
    _offered(first_contact)
    services.conversation_open(contact=second_contact, channel="chat")
    total = WorkItemEvent.objects.filter(kind="queued").count()

    # when copied one routing event at a time
    runs = []
    while OutboxEntry.objects.filter(consumer=ROUTING_HISTORY).exists():
        runs.append(routing_history_copy(batch_size=1).handled)

    # then each contact has its own queued event, one a run (offers are not kept: no entry)
    assert total == 2
    assert [e.kind for e in _timeline(first_contact, "routing.")] == ["routing.queued"]
    assert [e.kind for e in _timeline(second_contact, "routing.")] == ["routing.queued"]
    assert WorkItemEvent.objects.filter(kind="offered").exists()
    assert runs == [1, 1]
