"""The core loop end to end, with every part real: a visitor's socket and an agent's socket
on the Redis channel layer, PostgreSQL, and a Celery worker on the Redis broker that
detects the chat's language and routes it."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from conversations import services, widget
from conversations.models import Conversation, Message
from routing import services as routing
from routing.models import ItemState, Presence, Queue, WorkItem
from supportdesk.push import flush
from supportdesk.routing import websocket_urlpatterns
from tests.factories import AgentProfileFactory
from tests.sockets import agent_communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


async def receive_until(communicator: WebsocketCommunicator, wanted, *, timeout: float = 30.0) -> dict:
    """The first frame `wanted` accepts, skipping others (a bound on waiting, not a speed check)."""
    async def first() -> dict:
        while True:
            frame = await communicator.receive_json_from(timeout=timeout)
            if wanted(frame):
                return frame

    return await asyncio.wait_for(first(), timeout)


def test_a_visitor_writes_the_worker_routes_by_language_the_agent_accepts_and_replies(private_worker):
    # Given an online agent who speaks Spanish, and one who speaks only German
    Queue.objects.create(key="general", name="General")
    spanish = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    german = AgentProfileFactory(languages=["de"], contact_kinds=["customer"])
    for profile in (spanish, german):
        routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    flush()
    token = widget.session_encode(services.visitor_session_start())

    async def scenario() -> dict:
        agent = agent_communicator(spanish.user)
        visitor = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/?token={token}")
        assert (await agent.connect())[0] and (await visitor.connect())[0]
        ready = await visitor.receive_json_from(timeout=10)

        # When an anonymous visitor writes in Spanish
        await visitor.send_json_to({"type": "message", "client_id": "m1",
                                    "body": "Hola, mi pedido no ha llegado todavía y necesito ayuda, por favor"})
        ack = await receive_until(visitor, lambda f: f["type"] == "ack")
        # then the worker detects the language and routing offers the chat to the Spanish speaker
        offer = await receive_until(agent, lambda f: f["type"] == "routing.item" and f["event"] == "offered")

        # When the agent accepts and answers
        await sync_to_async(services.offer_accept)(item_id=offer["item_id"], user=spanish.user)
        await sync_to_async(services.agent_reply)(conversation_id=ack["conversation_id"], user=spanish.user,
                                                  body="¡Hola! Lo miro ahora mismo.")
        await sync_to_async(flush)()
        agent_named = await receive_until(visitor, lambda f: f["type"] == "chat.agent")
        reply = await receive_until(visitor, lambda f: f["type"] == "chat.message" and f["direction"] == "out")

        # and the visitor writes again, the agent's socket (now following the chat) gets it
        await visitor.send_json_to({"type": "message", "client_id": "m2", "body": "Gracias"})
        follow_up = await receive_until(agent, lambda f: f["type"] == "chat.message" and f["direction"] == "in")
        await visitor.disconnect()
        await agent.disconnect()
        return {"ready": ready, "ack": ack, "offer": offer, "agent_named": agent_named, "reply": reply,
                "follow_up": follow_up}

    seen = async_to_sync(scenario)()

    # Then
    conversation = Conversation.objects.get(pk=seen["ack"]["conversation_id"])
    assert seen["ready"]["conversation"] is None and seen["ready"]["agents_online"] is True
    assert seen["ack"]["sequence"] == 1
    assert conversation.language == "es" and conversation.routed_at is not None
    assert seen["offer"]["conversation_id"] == conversation.pk
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert item.state == ItemState.ASSIGNED and item.agent_id == spanish.pk
    assert conversation.assignee_id == spanish.user_id
    assert seen["agent_named"]["agent"] == services.author_name(spanish.user)
    assert (seen["reply"]["sequence"], seen["reply"]["body"]) == (2, "¡Hola! Lo miro ahora mismo.")
    assert (seen["follow_up"]["sequence"], seen["follow_up"]["body"]) == (3, "Gracias")
    assert list(Message.objects.filter(conversation=conversation).values_list("sequence", "direction")) == [
        (1, "in"), (2, "out"), (3, "in")]
