"""The inbound services providers call: a batch of messages stored at once, numbered and
deduplicated as one at a time would be; new threads placed one after the other."""

from __future__ import annotations

import pytest

from conversations.models import Channel, Conversation, ConversationStatus, Message
from conversations.services import conversation_status_set
from conversations.services.inbound import (
    InboundCases,
    InboundItem,
    inbound_message_receive,
    inbound_messages_receive,
)
from supportdesk.errors import Conflict
from tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def test_a_batch_numbers_each_conversations_messages_in_order():
    first, second = ConversationFactory(channel=Channel.EMAIL), ConversationFactory(channel=Channel.EMAIL)
    inbound_message_receive(conversation=first, body="before", provider_id="p0")

    messages = inbound_messages_receive(items=[
        InboundItem(conversation=first, body="one", provider_id="p1"),
        InboundItem(conversation=second, body="two", provider_id="p2", metadata={"email": {"subject": "x"}}),
        InboundItem(conversation=first, body="three", provider_id="p3"),
    ])

    assert [(m.conversation_id, m.sequence, m.body) for m in messages] == [
        (first.pk, 2, "one"), (second.pk, 1, "two"), (first.pk, 3, "three")]
    assert messages[1].channel_metadata == {"email": {"subject": "x"}}
    bodies = Message.objects.filter(conversation=first).order_by("sequence").values_list("body", flat=True)
    assert list(bodies) == ["before", "one", "three"]
    first.refresh_from_db()
    assert first.last_message_sequence == 3 and first.last_message_at is not None


def test_a_batch_stores_a_message_once_per_provider_id():
    conversation = ConversationFactory(channel=Channel.EMAIL)
    stored = inbound_message_receive(conversation=conversation, body="hello", provider_id="p1")

    messages = inbound_messages_receive(items=[
        InboundItem(conversation=conversation, body="hello", provider_id="p1"),
        InboundItem(conversation=conversation, body="new", provider_id="p2"),
        InboundItem(conversation=conversation, body="new", provider_id="p2"),
    ])

    assert [(m.pk, m.replayed) for m in messages] == [(stored.pk, True), (messages[1].pk, False),
                                                        (messages[1].pk, True)]
    assert Message.objects.filter(conversation=conversation).count() == 2
    with pytest.raises(Conflict):
        inbound_messages_receive(items=[InboundItem(conversation=conversation, body="other", provider_id="p1")])


def test_a_batch_reopens_the_conversations_it_answers():
    conversation = ConversationFactory(channel=Channel.EMAIL)
    conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED)

    inbound_messages_receive(items=[InboundItem(conversation=conversation, body="one more", provider_id="p")])

    assert Conversation.objects.get(pk=conversation.pk).status == ConversationStatus.OPEN
    assert conversation.status == ConversationStatus.OPEN


def test_new_threads_placed_one_after_the_other_join_the_case_the_first_opened():
    contact, other = ContactFactory(), ContactFactory()
    cases = InboundCases(contact_ids=[contact.pk, other.pk], channel=Channel.EMAIL)

    first = cases.place(contact=contact, subject="first")
    second = cases.place(contact=contact, subject="second")
    apart = cases.place(contact=contact, subject="a workflow's answer", join_open=False)
    theirs = cases.place(contact=other, subject="theirs")

    assert second == first and first.subject == "first"
    assert apart != first and apart.linked_conversation_id == first.pk
    assert theirs.contact_id == other.pk and theirs != first
