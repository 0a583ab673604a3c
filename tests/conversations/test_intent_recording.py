"""Routing a conversation records what its first customer message asks for (conversations.intents),
and the agent workspace shows it beside the language."""

from __future__ import annotations

import pytest

from conversations import services, tasks
from conversations.intents import Intent
from conversations.models import Conversation, ConversationIntent, Message, MessageDirection
from routing import services as routing
from routing.models import Presence, Queue, WorkItem
from tests.factories import AgentProfileFactory, ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def general_queue() -> Queue:
    return Queue.objects.create(key="general", name="General")


def chat_waiting(body: str, *, language: str = "") -> Conversation:
    """A chat as the widget leaves it: opened, first message stored, not routed yet."""
    conversation = ConversationFactory(contact=ContactFactory(preferred_language=""), language=language,
                                       last_message_sequence=1)
    Message.objects.create(conversation=conversation, sequence=1, direction=MessageDirection.INBOUND, body=body)
    return conversation


def test_the_choices_agents_read_are_the_classifiers_intents() -> None:
    assert [value for value, _label in ConversationIntent.choices] == [intent.value for intent in Intent]


def test_routing_records_the_intent_of_the_first_message_with_its_confidence() -> None:
    conversation = chat_waiting("Hola, mi pedido llega tarde, llevo una hora esperando")

    assert tasks.conversation_route(conversation.pk) is True

    conversation.refresh_from_db()
    assert (conversation.language, conversation.intent) == ("es", "late")
    assert 0.5 <= conversation.intent_confidence <= 1.0
    assert WorkItem.objects.filter(conversation_id=conversation.pk).exists()


def test_a_message_the_model_is_unsure_of_records_no_intent_and_is_routed_all_the_same() -> None:
    conversation = chat_waiting("lorem ipsum dolor sit amet", language="en")

    tasks.conversation_route(conversation.pk)

    conversation.refresh_from_db()
    assert conversation.intent == ""
    assert conversation.intent_confidence is not None and conversation.intent_confidence < 0.5
    assert conversation.routed_at is not None


def test_a_failing_model_never_keeps_the_conversation_from_routing(monkeypatch) -> None:
    import conversations.intents

    def broken(text: str, language: str) -> None:
        raise RuntimeError("model unavailable")

    monkeypatch.setattr(conversations.intents, "intent_of", broken)
    conversation = chat_waiting("where is my order", language="en")

    assert tasks.conversation_route(conversation.pk) is True

    conversation.refresh_from_db()
    assert (conversation.intent, conversation.intent_confidence) == ("", None)
    assert WorkItem.objects.filter(conversation_id=conversation.pk).exists()


def test_a_conversation_without_a_customer_message_has_no_intent() -> None:
    conversation = ConversationFactory(contact=ContactFactory(preferred_language="en"), language="en")

    tasks.conversation_route(conversation.pk)

    conversation.refresh_from_db()
    assert (conversation.intent, conversation.intent_confidence) == ("", None)


def test_the_workspace_shows_the_intent_beside_the_language(client) -> None:
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    conversation = services.conversation_open(contact=ContactFactory(preferred_language="es"), channel="chat")
    Conversation.objects.filter(pk=conversation.pk).update(intent="cancel", intent_confidence=0.9)
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    services.offer_accept(item_id=item.pk, user=profile.user)
    client.force_login(profile.user)

    page = client.get(f"/desk/conversations/{conversation.pk}/").content.decode()

    assert 'data-testid="conversation-intent" data-intent="cancel"' in page
    assert "Cancel order" in page

    Conversation.objects.filter(pk=conversation.pk).update(intent="")
    page = client.get(f"/desk/conversations/{conversation.pk}/").content.decode()
    assert 'data-testid="conversation-intent"' not in page


def test_the_api_shows_the_intent_read_only() -> None:
    from conversations.serializers import ConversationSerializer

    conversation = ConversationFactory(intent="refund", intent_confidence=0.81)
    data = ConversationSerializer(conversation).data
    assert (data["intent"], data["intent_confidence"]) == ("refund", 0.81)
    assert {"intent", "intent_confidence"} <= set(ConversationSerializer.Meta.read_only_fields)
