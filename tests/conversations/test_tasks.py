"""Conversation tasks: routing a chat once its language is known, and the sweep that routes
chats whose routing task was lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import tasks
from conversations.models import Conversation, Message, MessageDirection
from routing.models import Queue, WorkItem
from tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

SPANISH = "Hola, mi pedido lleva una hora de retraso y todavía no ha llegado. ¿Podéis ayudarme, por favor?"


@pytest.fixture(autouse=True)
def general_queue() -> Queue:
    return Queue.objects.create(key="general", name="General")


def chat_waiting(*, preferred_language: str = "", language: str = "", body: str = SPANISH) -> Conversation:
    """A chat as the widget leaves it: opened, first message stored, not routed yet."""
    conversation = ConversationFactory(contact=ContactFactory(preferred_language=preferred_language),
                                       language=language, last_message_sequence=1)
    Message.objects.create(conversation=conversation, sequence=1, direction=MessageDirection.INBOUND, body=body)
    return conversation


def test_routing_takes_the_language_of_the_first_message_when_the_contact_has_none():
    conversation = chat_waiting()

    assert tasks.conversation_route(conversation.pk) is True

    conversation.refresh_from_db()
    assert conversation.language == "es" and conversation.routed_at is not None
    assert WorkItem.objects.get(conversation_id=conversation.pk).language == "es"


def test_routing_keeps_the_contacts_preferred_language():
    # conversation_open gives the chat the contact's language; the message is in another.
    conversation = chat_waiting(preferred_language="fr", language="fr")

    tasks.conversation_route(conversation.pk)

    conversation.refresh_from_db()
    assert conversation.language == "fr"
    assert WorkItem.objects.get(conversation_id=conversation.pk).language == "fr"


def test_routing_twice_enqueues_one_work_item():
    conversation = chat_waiting()
    tasks.conversation_route(conversation.pk)
    conversation.refresh_from_db()
    routed_at = conversation.routed_at

    again = tasks.conversation_route(conversation.pk)

    conversation.refresh_from_db()
    assert again is False
    assert WorkItem.objects.filter(conversation_id=conversation.pk).count() == 1
    assert conversation.routed_at == routed_at


def test_the_sweep_routes_a_chat_whose_task_was_lost_and_leaves_a_fresh_one_alone():
    lost, fresh = chat_waiting(), chat_waiting()
    Conversation.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=1))

    routed = tasks.conversations_unrouted_sweep()

    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert routed == 1
    assert lost.routed_at is not None and WorkItem.objects.filter(conversation_id=lost.pk).exists()
    assert fresh.routed_at is None and not WorkItem.objects.filter(conversation_id=fresh.pk).exists()
