"""REST API v1 for conversations and messages: auth, filters, writes, sequence, errors (the desk's
access rule, accepting and transferring: test_api_access.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from conversations.models import Conversation, Message
from conversations.services import message_create
from tests.conversations.api_clients import CONVERSATIONS, ids, messages_url
from tests.factories import AgentFactory, ContactFactory, ConversationFactory
from timeline.events import EventKind
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


# --- Authentication -----------------------------------------------------------------------


def test_an_anonymous_caller_gets_401_in_the_error_shape(api_client):
    conversation = ConversationFactory()

    for url in (CONVERSATIONS, messages_url(conversation.pk)):
        response = api_client.get(url)

        assert response.status_code == 401, url
        assert response.json()["error"]["code"] == "not_authenticated"


def test_a_token_authenticates_the_caller(api_client, agent, mine):
    conversation = mine
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=agent).key}")

    response = api_client.get(CONVERSATIONS)

    assert response.status_code == 200
    assert ids(response) == [conversation.pk]


# --- Conversations ------------------------------------------------------------------------


def test_opening_a_conversation_records_it_on_the_contacts_timeline(agent_client, agent):
    contact = ContactFactory(preferred_language="pt")

    response = agent_client.post(
        CONVERSATIONS,
        {"contact": contact.pk, "channel": "email", "subject": "Where is my order?"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["contact"]["id"] == contact.pk
    assert body["status"] == "open"
    assert body["language"] == "pt"  # taken from the contact when not given
    event = TimelineEvent.objects.get(contact=contact)
    assert event.kind == EventKind.CONVERSATION_OPENED
    assert (event.subject_type, event.subject_id) == ("conversation", body["id"])
    assert event.payload == {"channel": "email", "subject": "Where is my order?"}
    assert event.actor == f"user:{agent.pk}"


def test_opening_a_conversation_again_with_its_client_id_returns_the_first_one(agent_client):
    contact = ContactFactory()
    opening = {"contact": contact.pk, "channel": "email", "subject": "Late order", "client_id": "ticket-7"}

    first = agent_client.post(CONVERSATIONS, opening, format="json")
    again = agent_client.post(CONVERSATIONS, opening, format="json")  # a retry after a timeout
    other_channel = agent_client.post(CONVERSATIONS, {**opening, "channel": "chat"}, format="json")
    other_id = agent_client.post(CONVERSATIONS, {**opening, "client_id": "ticket-8"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert (other_channel.status_code, other_channel.json()["error"]["code"]) == (409, "client_id_reused")
    assert other_id.status_code == 201
    assert Conversation.objects.filter(contact=contact).count() == 2
    assert TimelineEvent.objects.filter(contact=contact, kind=EventKind.CONVERSATION_OPENED).count() == 2


def test_a_malformed_client_id_is_a_400(agent_client):
    response = agent_client.post(CONVERSATIONS, {"contact": ContactFactory().pk, "channel": "email",
                                                 "client_id": "no spaces"}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_client_id")
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (lambda contact: {"channel": "chat"}, "contact"),
        (lambda contact: {"contact": 999999, "channel": "chat"}, "contact"),
        (lambda contact: {"contact": contact.pk, "channel": "pigeon"}, "channel"),
        (lambda contact: {"contact": contact.pk, "channel": "chat", "assignee": 1}, "assignee"),
    ],
    ids=["missing-contact", "unknown-contact", "unknown-channel", "assignee-not-settable"],
)
def test_opening_a_conversation_with_bad_input_is_a_400_naming_the_field(
    agent_client, payload, field
):
    contact = ContactFactory()

    response = agent_client.post(CONVERSATIONS, payload(contact), format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["details"]
    assert not Conversation.objects.exists()


def test_changing_the_status_records_it_on_the_timeline(agent_client, agent, mine):
    conversation = mine

    response = agent_client.patch(
        f"{CONVERSATIONS}{conversation.pk}/", {"status": "resolved"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["resolved_at"] is not None
    conversation.refresh_from_db()
    assert conversation.status == "resolved"
    event = TimelineEvent.objects.get(contact=conversation.contact, kind=EventKind.CONVERSATION_STATUS_CHANGED)
    assert event.payload == {"status": "resolved"}
    assert event.subject_id == conversation.pk
    assert event.actor == f"user:{agent.pk}"


@pytest.mark.parametrize(
    ("payload", "field"), [({"status": "archived"}, "status"), ({"subject": "New"}, "subject")]
)
def test_a_bad_change_is_a_400_and_changes_nothing(agent_client, mine, payload, field):
    Conversation.objects.filter(pk=mine.pk).update(subject="Old")
    conversation = mine
    events_before = TimelineEvent.objects.count()

    response = agent_client.patch(f"{CONVERSATIONS}{conversation.pk}/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    conversation.refresh_from_db()
    assert (conversation.status, conversation.subject) == ("open", "Old")
    assert TimelineEvent.objects.count() == events_before


def _conversation_filter_cases():
    return [
        ("contact", lambda: {"contact": ContactFactory()}, lambda c: c.contact_id),
        ("status", lambda: {"status": "pending"}, lambda c: "pending"),
        ("channel", lambda: {"channel": "voice"}, lambda c: "voice"),
        ("language", lambda: {"language": "fr"}, lambda c: "fr"),
        ("assignee", lambda: {"assignee": AgentFactory()}, lambda c: c.assignee_id),
    ]


@pytest.mark.parametrize(("name", "wanted_attrs", "value"), _conversation_filter_cases())
def test_conversation_filters_keep_only_matching_conversations(
    supervisor_client, name, wanted_attrs, value
):
    wanted = ConversationFactory(**wanted_attrs())
    ConversationFactory(status="open", channel="chat", language="es")

    response = supervisor_client.get(CONVERSATIONS, {name: value(wanted)})

    assert response.status_code == 200
    assert ids(response) == [wanted.pk]


def test_conversations_come_newest_first_in_cursor_pages(supervisor_client):
    oldest, middle, newest = ConversationFactory(), ConversationFactory(), ConversationFactory()

    first = supervisor_client.get(CONVERSATIONS, {"page_size": 2})
    second = supervisor_client.get(first.json()["next"])

    assert ids(first) == [newest.pk, middle.pk]
    assert ids(second) == [oldest.pk]
    assert second.json()["next"] is None


def test_listing_conversations_costs_the_same_queries_for_one_or_many(agent, agent_client):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert agent_client.get(CONVERSATIONS).status_code == 200
        return len(queries)

    ConversationFactory(assignee=agent)
    list_queries()  # the caller's permissions are read once, then cached on the user
    one = list_queries()
    for _ in range(4):
        ConversationFactory(assignee=agent)

    assert list_queries() == one


# --- Messages -----------------------------------------------------------------------------


def test_messages_get_consecutive_sequence_numbers_and_their_authors(agent_client, agent, mine,
                                                                    integration_client):
    conversation = mine
    url = messages_url(conversation.pk)

    inbound = integration_client.post(url, {"direction": "in", "body": "Hola"}, format="json")
    reply = agent_client.post(url, {"direction": "out", "body": "¡Hola!"}, format="json")
    note = agent_client.post(url, {"direction": "note", "body": "VIP"}, format="json")

    assert [r.status_code for r in (inbound, reply, note)] == [201, 201, 201]
    assert [r.json()["sequence"] for r in (inbound, reply, note)] == [1, 2, 3]
    assert inbound.json()["author_user"] is None
    assert inbound.json()["author_label"] == "contact"
    assert reply.json()["author_user"] == agent.pk
    assert note.json()["author_user"] == agent.pk
    conversation.refresh_from_db()
    assert conversation.last_message_sequence == 3
    assert conversation.first_response_at is not None


def test_messages_are_listed_in_sequence_order_in_cursor_pages(agent_client, agent, mine):
    conversation = mine
    for body in ("one", "two", "three"):
        message_create(conversation=conversation, direction="in", body=body)
    # Clocks disagree with the sequence (as under concurrent senders): sequence wins.
    later = timezone.now() + timedelta(minutes=5)
    Message.objects.filter(conversation=conversation, sequence=1).update(created_at=later)

    first = agent_client.get(messages_url(conversation.pk), {"page_size": 2})
    second = agent_client.get(first.json()["next"])

    assert [m["body"] for m in first.json()["results"]] == ["one", "two"]
    assert [m["body"] for m in second.json()["results"]] == ["three"]
    assert second.json()["next"] is None


def test_messages_of_other_conversations_are_not_listed(supervisor_client):
    conversation, other = ConversationFactory(), ConversationFactory()
    message_create(conversation=conversation, direction="in", body="mine")
    message_create(conversation=other, direction="in", body="theirs")

    response = supervisor_client.get(messages_url(conversation.pk))

    assert [m["body"] for m in response.json()["results"]] == ["mine"]


def test_posting_to_an_unknown_conversation_is_a_404_in_the_error_shape(agent_client):
    response = agent_client.post(
        messages_url(999999), {"direction": "out", "body": "Hello?"}, format="json"
    )

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "999999" in error["message"]
    assert not Message.objects.exists()


def test_listing_an_unknown_conversation_is_a_404(agent_client):
    response = agent_client.get(messages_url(999999))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"direction": "out", "body": "   "}, "empty_body", None),
        ({"direction": "sideways", "body": "Hi"}, "invalid", "direction"),
        ({"direction": "out"}, "invalid", "body"),
    ],
)
def test_a_bad_message_is_a_400_and_takes_no_sequence_number(agent_client, mine, payload, code, field):
    conversation = mine

    response = agent_client.post(messages_url(conversation.pk), payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    if field:
        assert field in error["details"]
    conversation.refresh_from_db()
    assert conversation.last_message_sequence == 0
    assert not Message.objects.exists()
