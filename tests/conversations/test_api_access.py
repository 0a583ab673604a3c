"""REST API v1 for conversations: the desk's access rule at the API's door, and accepting and
transferring through the API (the desk's one path)."""

from __future__ import annotations

import pytest

from conversations.models import Conversation, Message
from conversations.services import message_create
from tests.conversations.api_clients import CONVERSATIONS, client_for, ids, messages_url
from tests.factories import ConversationFactory, SupervisorFactory, UserFactory
from tests.scenarios import conversation_assigned, conversation_offered, online_agent
from timeline import events
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


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
