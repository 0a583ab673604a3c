"""A declined chat nobody else takes: the customer's widget is told they are waiting (a
`chat.notice` frame, over the real websocket stack and Redis channel layer); a chat another
agent picks up at once gets no notice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client

from conversations import waiting
from conversations.models import Conversation, Message
from routing.models import ItemState, WorkItem
from tests.conversations.test_visitor_consumer import chat_with, connected, pushes_sent, visitor_token
from tests.factories import AgentFactory
from tests.scenarios import online_agent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


@pytest.fixture(autouse=True)
def _isolated(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _decline_from_the_desk(agent_user, item_id: int) -> int:
    client = Client()
    client.force_login(agent_user)
    return client.post(f"/desk/offers/{item_id}/decline/", HTTP_HX_REQUEST="true").status_code


def _decline_through_the_api(agent_user, item_id: int) -> int:
    client = Client()
    client.force_login(agent_user)
    return client.post(f"/api/v1/routing/items/{item_id}/decline/", {"reason": "Not my area"},
                       content_type="application/json").status_code


DECLINES = {"desk": _decline_from_the_desk, "api": _decline_through_the_api}


def _chat_offered() -> tuple[Conversation, WorkItem, str, Any]:
    """A visitor's Spanish chat offered to the one agent online: (chat, item, visitor token, agent user)."""
    agent = online_agent(AgentFactory())
    session, token = visitor_token()
    conversation = chat_with(session, "Hola, ¿dónde está mi pedido?")
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert item.agent_id == agent.pk
    return conversation, item, token, agent.user


def _declined_in_view_of_the_widget(token: str, user: Any, item_id: int, *,
                                    how: str = "desk") -> tuple[int, list[dict[str, Any]]]:
    """The agent declines (from the desk or through the API) while the visitor's socket is
    open: the answer's status and every frame the widget gets."""

    async def scenario() -> tuple[int, list[dict[str, Any]]]:
        socket, _ = await connected(token)
        status = await sync_to_async(DECLINES[how])(user, item_id)
        await pushes_sent()
        frames = []
        while not await socket.receive_nothing(timeout=0.3):
            frames.append(await socket.receive_json_from(timeout=5))
        await socket.disconnect()
        return status, frames

    return async_to_sync(scenario)()


@pytest.mark.parametrize("how", sorted(DECLINES))
def test_a_declined_chat_nobody_takes_tells_the_customer_they_are_waiting(how):
    # given a chat offered to the only agent who speaks its language
    conversation, item, token, user = _chat_offered()

    # when the agent declines it
    status, frames = _declined_in_view_of_the_widget(token, user, item.pk, how=how)

    # then the chat waits, and the widget hears so once, to be shown after the customer's message
    assert status == 200
    assert WorkItem.objects.get(pk=item.pk).state == ItemState.WAITING
    assert frames == [{"type": "chat.notice", "conversation_id": conversation.pk, "notice": "waiting",
                       "text": waiting.waiting_text("es"), "after_sequence": 1}]
    assert frames[0]["text"] == ("Estás en la cola: te responderá el próximo agente disponible. "
                                 "Gracias por esperar.")  # the chat's language, not English
    # a notice, not a message: the thread and the desk's first response are untouched
    conversation.refresh_from_db()
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert conversation.first_response_at is None


def test_a_declined_chat_another_agent_is_offered_gets_no_notice():
    conversation, item, token, user = _chat_offered()
    second = online_agent(AgentFactory())

    status, frames = _declined_in_view_of_the_widget(token, user, item.pk)

    assert status == 200 and frames == []
    item.refresh_from_db()
    assert (item.state, item.agent_id) == (ItemState.OFFERED, second.pk)
