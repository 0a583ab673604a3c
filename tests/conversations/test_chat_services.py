"""The chat's use cases: visitors' messages numbered without gaps or duplicates, whichever
path stores them, read marks that only move forward, and macros filled in."""

from __future__ import annotations

import asyncio

import pytest

from conversations import selectors, services, widget
from conversations.models import Conversation, ConversationStatus, Macro, Message
from supportdesk.errors import DomainError
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_routing(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True


def sequences(conversation_id: int) -> list[int]:
    return list(Message.objects.filter(conversation_id=conversation_id).values_list("sequence", flat=True))


@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous", "identified"])
def test_a_resent_message_is_stored_once_and_the_numbering_has_no_gap(anonymous):
    session = (widget.Session(visitor="v1") if anonymous
               else widget.Session(contact_id=ContactFactory().pk))
    first = services.visitor_message_send(session=session, body="Hello", client_id="c1")

    # the hot path (the socket knows its chat) and the full path, each sent twice
    again = services.visitor_message_send(session=session, body="Hello", client_id="c1",
                                          conversation_id=first.conversation_id)
    second = services.visitor_message_send(session=session, body="Where is it?", client_id="c2",
                                           conversation_id=first.conversation_id)
    second_again = services.visitor_message_send(session=session, body="Where is it?", client_id="c2")
    third = services.visitor_message_send(session=session, body="Thanks", client_id="c3",
                                          conversation_id=first.conversation_id)

    assert (again.pk, second_again.pk) == (first.pk, second.pk)
    assert [first.sequence, second.sequence, third.sequence] == [1, 2, 3]
    assert sequences(first.conversation_id) == [1, 2, 3]
    assert Conversation.objects.get(pk=first.conversation_id).last_message_sequence == 3


def test_a_message_after_the_chat_was_resolved_opens_a_new_chat():
    session = widget.Session(contact_id=ContactFactory().pk)
    first = services.visitor_message_send(session=session, body="Hello", client_id="c1")
    Conversation.objects.filter(pk=first.conversation_id).update(status=ConversationStatus.RESOLVED)

    later = services.visitor_message_send(session=session, body="One more thing", client_id="c2",
                                          conversation_id=first.conversation_id)

    assert later.conversation_id != first.conversation_id and later.sequence == 1
    assert sequences(first.conversation_id) == [1]


def test_the_hot_path_refuses_a_chat_that_is_not_the_visitors():
    mine = widget.Session(contact_id=ContactFactory().pk)
    theirs = services.visitor_message_send(session=widget.Session(contact_id=ContactFactory().pk),
                                           body="Private", client_id="t1")

    sent = services.visitor_message_send(session=mine, body="Hi", client_id="m1",
                                         conversation_id=theirs.conversation_id)

    assert sent.conversation_id != theirs.conversation_id
    assert sequences(theirs.conversation_id) == [1]


@pytest.mark.parametrize(("body", "client_id", "code"), [
    ("", "c1", "empty_body"), ("   ", "c1", "empty_body"), (None, "c1", "empty_body"),
    ("x" * 5000, "c1", "too_long"), ("hi", "bad id with spaces", "invalid_client_id"),
    ("hi", 42, "invalid_client_id"),
])
def test_bad_messages_are_refused_with_a_code(body, client_id, code):
    with pytest.raises(DomainError) as refused:
        services.visitor_message_send(session=widget.Session(visitor="v1"), body=body, client_id=client_id)

    assert refused.value.code == code
    assert not Message.objects.exists()


def test_read_marks_only_move_forward_and_never_past_the_last_message():
    session = widget.Session(contact_id=ContactFactory().pk)
    message = services.visitor_message_send(session=session, body="Hello", client_id="c1")
    services.visitor_message_send(session=session, body="Anyone?", client_id="c2")

    # capped at the last message
    assert services.visitor_read_mark(session=session, conversation_id=message.conversation_id, sequence=9) == 2
    assert services.visitor_read_mark(session=session, conversation_id=message.conversation_id,
                                      sequence=1) is None
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.contact_read_sequence == 2


def test_a_macro_fills_in_the_contacts_and_agents_variables_and_keeps_unknown_ones():
    contact = ContactFactory(name="Lucía Fernández", lifetime_order_value="1234.50")
    agent = UserFactory(first_name="Marta")
    conversation = Conversation.objects.create(contact=contact, channel="chat")
    Macro.objects.filter(shortcut="ccproactivecall").delete()  # migration 0012 ships texts; this test has its own
    macro = Macro.objects.create(shortcut="ccproactivecall", title="Call",
                                 body="Hi {{ contact.first_name }}, {{agent.first_name}} here "
                                      "({{ contact.lifetime_order_value }}) {{ contact.shoe_size }}")

    text = selectors.macro_render(macro=macro, conversation=conversation, agent=agent)

    assert text == "Hi Lucía, Marta here (1234.50) {{ contact.shoe_size }}"


@pytest.mark.django_db(transaction=True)
def test_the_sockets_path_stores_on_the_event_loop_without_gaps_or_repeats(private_channel_layer):
    session = widget.Session(contact_id=ContactFactory().pk)
    first = services.visitor_message_send(session=session, body="Hello", client_id="c1")

    async def scenario() -> list:
        sent = []
        for body, client_id in (("Where is it?", "c2"), ("Where is it?", "c2"), ("Hello", "c1"),
                                ("Thanks", "c3")):
            sent.append(await services.visitor_message_send_async(
                session=session, body=body, client_id=client_id, conversation_id=first.conversation_id))
        return sent

    second, second_again, first_again, third = asyncio.run(scenario())

    assert (second_again.pk, first_again.pk) == (second.pk, first.pk)
    assert [second.sequence, third.sequence] == [2, 3]
    assert sequences(first.conversation_id) == [1, 2, 3]
    assert Conversation.objects.get(pk=first.conversation_id).last_message_sequence == 3
