"""REST API v1 for conversations and messages: auth, access, filters, writes, sequence, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conversations.models import Conversation, Message
from conversations.services import message_create
from tests.factories import (
    AgentFactory,
    ContactFactory,
    ConversationFactory,
    IntegrationFactory,
    SupervisorFactory,
    UserFactory,
)
from tests.scenarios import conversation_assigned, conversation_offered, online_agent
from timeline import events
from timeline.events import EventKind
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def supervisor_client() -> APIClient:
    return client_for(SupervisorFactory())


@pytest.fixture
def integration_client() -> APIClient:
    return client_for(IntegrationFactory())


@pytest.fixture
def mine(agent) -> Conversation:
    """A conversation assigned to the calling agent (agent_client)."""
    return conversation_assigned(online_agent(agent))


CONVERSATIONS = "/api/v1/conversations/"


def messages_url(conversation_id: int) -> str:
    return f"{CONVERSATIONS}{conversation_id}/messages/"


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


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


# --- The desk's access rule, at the API's door -------------------------------------------------


@pytest.fixture
def theirs() -> Conversation:
    """Another agent's conversation, with an internal note in it (that agent then goes away, so
    new chats are offered to the caller)."""
    from routing import services as routing

    conversation = conversation_assigned(online_agent())
    routing.presence_set(user=conversation.assignee, presence="away")
    message_create(conversation=conversation, direction="note", body="Internal: refund abuse?",
                   author=conversation.assignee)
    return conversation


def test_an_agent_lists_only_the_conversations_the_desk_shows_them(agent, agent_client, theirs):
    # given one conversation assigned to the agent, one offered to them, one they answered
    # before (assignee), and someone else's and an unassigned one
    me = online_agent(agent)
    assigned = conversation_assigned(me)
    offered, _item = conversation_offered(me)
    answered_before = ConversationFactory(assignee=agent, status="resolved")
    ConversationFactory()

    response = agent_client.get(CONVERSATIONS)

    assert response.status_code == 200
    assert set(ids(response)) == {assigned.pk, offered.pk, answered_before.pk}


@pytest.mark.parametrize("method, path, body", [
    ("get", "", None),
    ("patch", "", {"status": "resolved"}),
    ("get", "messages/", None),
    ("post", "messages/", {"direction": "out", "body": "Hi, I am not your agent"}),
    ("post", "messages/", {"direction": "note", "body": "I should not be here"}),
])
def test_another_agents_conversation_is_a_404_like_one_that_does_not_exist(
        agent_client, theirs, method, path, body):
    for conversation_id in (theirs.pk, 10**9):
        response = getattr(agent_client, method)(f"{CONVERSATIONS}{conversation_id}/{path}", body, format="json")

        assert response.status_code == 404, conversation_id
        assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.status == "open" and theirs.last_message_sequence == 1


def test_an_agent_acts_only_on_a_conversation_assigned_to_them_not_one_merely_offered(agent, agent_client):
    offered, _item = conversation_offered(online_agent(agent))

    seen = agent_client.get(f"{CONVERSATIONS}{offered.pk}/")
    changed = agent_client.patch(f"{CONVERSATIONS}{offered.pk}/", {"status": "resolved"}, format="json")
    replied = agent_client.post(messages_url(offered.pk), {"direction": "out", "body": "Hi"}, format="json")

    assert seen.status_code == 200
    assert (changed.status_code, replied.status_code) == (404, 404)


@pytest.mark.parametrize("caller", ["agent", "supervisor"])
def test_nobody_of_the_desk_posts_as_the_customer(agent_client, mine, caller):
    client = agent_client if caller == "agent" else client_for(SupervisorFactory())

    response = client.post(messages_url(mine.pk), {"direction": "in", "body": "I am the customer"},
                           format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "inbound_forbidden"
    assert not Message.objects.filter(conversation=mine).exists()


def test_an_integration_posts_the_customers_words_and_nothing_else(integration_client, mine):
    inbound = integration_client.post(messages_url(mine.pk), {"direction": "in", "body": "Hola"}, format="json")
    reply = integration_client.post(messages_url(mine.pk), {"direction": "out", "body": "Hi"}, format="json")
    listed = integration_client.get(CONVERSATIONS)
    read = integration_client.get(messages_url(mine.pk))

    assert inbound.status_code == 201 and inbound.json()["author_user"] is None
    assert [response.status_code for response in (reply, listed, read)] == [403, 403, 403]
    assert list(Message.objects.filter(conversation=mine).values_list("direction", flat=True)) == ["in"]


@pytest.mark.parametrize("direction", ["in", "out", "note"])
def test_the_message_length_limit_holds_on_the_api_too(settings, agent_client, integration_client, mine,
                                                       direction):
    settings.CHAT_MESSAGE_MAX_CHARS = 50
    client = integration_client if direction == "in" else agent_client

    too_long = client.post(messages_url(mine.pk), {"direction": direction, "body": "x" * 51}, format="json")
    just_right = client.post(messages_url(mine.pk), {"direction": direction, "body": "x" * 50}, format="json")

    assert (too_long.status_code, too_long.json()["error"]["code"]) == (400, "too_long")
    assert just_right.status_code == 201
    assert Message.objects.filter(conversation=mine).count() == 1


@pytest.mark.parametrize("account", [{}, {"is_staff": True}], ids=["no-agent-profile", "staff-only"])
def test_an_account_that_is_neither_agent_nor_supervisor_gets_403_everywhere(theirs, account):
    client = client_for(UserFactory(**account))
    calls = [
        client.get(CONVERSATIONS),
        client.get(f"{CONVERSATIONS}{theirs.pk}/"),
        client.get(messages_url(theirs.pk)),
        client.post(messages_url(theirs.pk), {"direction": "out", "body": "Hi"}, format="json"),
        client.patch(f"{CONVERSATIONS}{theirs.pk}/", {"status": "closed"}, format="json"),
        client.post(CONVERSATIONS, {"contact": theirs.contact_id, "channel": "email"}, format="json"),
    ]

    for response in calls:
        assert response.status_code == 403, response.request
        assert response.json()["error"]["code"] == "permission_denied"
    theirs.refresh_from_db()
    assert theirs.status == "open" and theirs.last_message_sequence == 1


def test_an_agents_reply_through_the_api_takes_the_desks_path(agent, agent_client, mine):
    # given a conversation the agent was assigned (and an unread customer message in it)
    message_create(conversation=mine, direction="in", body="Hola")

    response = agent_client.post(messages_url(mine.pk), {"direction": "out", "body": "¡Hola!"}, format="json")

    # then, as from the workspace, answering marks what came before as read
    assert response.status_code == 201
    mine.refresh_from_db()
    assert mine.agent_read_sequence == 2


def test_a_note_through_the_api_reaches_the_contacts_timeline_as_from_the_desk(agent_client, mine):
    response = agent_client.post(messages_url(mine.pk), {"direction": "note", "body": "VIP"}, format="json")

    assert response.status_code == 201
    assert TimelineEvent.objects.filter(contact=mine.contact, kind=events.CONVERSATION_NOTE).exists()


# --- Accept and transfer through the API: the desk's one path -----------------------------------


def test_accepting_through_the_api_assigns_the_conversation_records_it_and_tells_the_widget(
        agent, agent_client, monkeypatch):
    from conversations import push

    pushed = []
    monkeypatch.setattr(push, "assignment_changed", lambda **kwargs: pushed.append(kwargs))
    conversation, item = conversation_offered(online_agent(agent))

    response = agent_client.post(f"/api/v1/routing/items/{item.pk}/accept/")

    assert response.status_code == 200 and response.json()["state"] == "assigned"
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.pk
    assert TimelineEvent.objects.filter(contact=conversation.contact,
                                        kind=events.CONVERSATION_ASSIGNED).exists()
    assert [call["conversation_id"] for call in pushed] == [conversation.pk]


def test_transferring_through_the_api_moves_the_conversation_and_records_it(agent, agent_client):
    conversation = conversation_assigned(online_agent(agent))
    colleague = online_agent()
    item_id = conversation_item_id(conversation)

    response = agent_client.post(f"/api/v1/routing/items/{item_id}/transfer/", {"agent": colleague.pk},
                                 format="json")

    assert response.status_code == 200 and response.json()["agent"] == colleague.pk
    conversation.refresh_from_db()
    assert conversation.assignee_id == colleague.user_id
    assert TimelineEvent.objects.filter(contact=conversation.contact,
                                        kind=events.CONVERSATION_TRANSFERRED).exists()


def conversation_item_id(conversation: Conversation) -> int:
    from routing.models import WorkItem

    return WorkItem.objects.filter(conversation_id=conversation.pk).values_list("pk", flat=True).get()
