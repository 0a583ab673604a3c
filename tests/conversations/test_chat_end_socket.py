"""Ending a chat over the visitor's real socket (the `end` frame), and the socket keeping the
visitor's sighting of their chat: refreshed while connected, written at the disconnect, so the
sweep abandons a chat whose visitor went away (ended at the disconnect) and never one whose
visitor is connected or came back in time. The helpers are test_visitor_consumer's."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from conversations import services, widget
from conversations.models import ChatVisitor, Conversation, ConversationStatus
from routing.models import ItemState, WorkItem
from tests.conversations.test_visitor_consumer import chat_with, connected, frames_until, visitor_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


@pytest.fixture(autouse=True)
def _isolated(settings):
    import uuid

    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CHAT_ABANDON_AFTER_SECONDS = 120


def item_of(conversation: Conversation) -> WorkItem:
    return WorkItem.objects.filter(conversation_id=conversation.pk).order_by("-enqueued_at").first()


async def seen_after(conversation: Conversation, moment: datetime) -> datetime:
    """The chat's sighting once it is later than `moment` (the socket writes it on its own task)."""
    for _ in range(100):
        seen = await sync_to_async(ChatVisitor.objects.filter(pk=conversation.pk, seen_at__gt=moment)
                                   .values_list("seen_at", flat=True).first)()
        if seen is not None:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"chat {conversation.pk} was not seen after {moment}")


def gone_since(conversation: Conversation, minutes: float) -> None:
    ChatVisitor.objects.filter(pk=conversation.pk).update(seen_at=timezone.now() - timedelta(minutes=minutes))


def test_the_end_frame_abandons_a_waiting_chat_and_the_next_message_opens_a_new_one():
    session, token = visitor_token()
    conversation = chat_with(session, "Hola, ¿dónde está mi pedido?")
    assert item_of(conversation).state == ItemState.WAITING  # no agent online

    async def scenario():
        socket, ready = await connected(token)
        await socket.send_json_to({"type": "end", "conversation_id": conversation.pk})
        frames = await frames_until(socket, "ended")
        await socket.send_json_to({"type": "message", "body": "Otra cosa", "client_id": "after-end"})
        after = await frames_until(socket, "ack")
        await socket.disconnect()
        return ready, frames, after[-1]

    ready, frames, ack = async_to_sync(scenario)()

    assert ready["conversation"]["id"] == conversation.pk
    ended = frames[-1]
    conversation.refresh_from_db()
    # told in the chat's language (detected from its first message)
    assert conversation.language == "es"
    assert ended == {"type": "ended", "conversation_id": conversation.pk,
                     "text": "Has terminado el chat. Escríbenos de nuevo cuando nos necesites."}
    item = item_of(conversation)
    assert conversation.status == ConversationStatus.CLOSED
    assert (item.state, item.answered_at, item.completed_at) == (ItemState.CANCELLED, None,
                                                                 conversation.contact_ended_at)
    assert ack["conversation_id"] != conversation.pk and ack["sequence"] == 1


def test_an_end_frame_with_no_chat_is_a_clear_error():
    _, token = visitor_token()

    async def scenario():
        socket, _ = await connected(token)
        await socket.send_json_to({"type": "end"})
        error = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "end", "conversation_id": "seven"})
        invalid = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return error, invalid

    error, invalid = async_to_sync(scenario)()

    assert (error["type"], error["code"], error["in_reply_to"]) == ("error", "no_conversation", "end")
    assert invalid["code"] == "invalid_conversation_id"


def test_a_socket_gone_past_the_threshold_abandons_the_chat_at_the_disconnect(settings):
    session, token = visitor_token()
    conversation = chat_with(session, "Hello?")

    async def scenario():
        connected_at = timezone.now()
        socket, _ = await connected(token)
        await seen_after(conversation, connected_at)  # the socket saw the visitor there
        before = timezone.now()
        await socket.disconnect()
        return before, timezone.now()

    before, after = async_to_sync(scenario)()

    left = ChatVisitor.objects.get(pk=conversation.pk).seen_at
    assert before <= left <= after  # written at the disconnect
    # a threshold ago is now past the disconnect (no waiting in a test)
    settings.CHAT_ABANDON_AFTER_SECONDS = 0.001
    assert services.chats_abandoned_sweep() == 1
    conversation.refresh_from_db()
    item = item_of(conversation)
    assert (item.state, item.answered_at, item.completed_at) == (ItemState.CANCELLED, None, left)
    assert conversation.status == ConversationStatus.CLOSED


def test_a_connected_visitor_and_one_who_reconnects_in_time_are_never_abandoned(settings):
    settings.CHAT_VISITOR_SEEN_SECONDS = 0.05
    session, token = visitor_token()
    conversation = chat_with(session, "Hello?")
    _, other_token = visitor_token()
    returning = chat_with(widget.session_decode(other_token), "Anyone?")

    async def scenario():
        start = timezone.now()
        socket, _ = await connected(token)
        # its sighting aged (a Redis or web restart: nothing to do with the socket) ...
        await seen_after(conversation, start)
        await sync_to_async(gone_since)(conversation, 10)
        # ... the open socket refreshes it
        await seen_after(conversation, start)
        # the other visitor left ten minutes ago, then comes back
        await sync_to_async(services.visitor_seen)(conversation_id=returning.pk)
        await sync_to_async(gone_since)(returning, 10)
        back_at = timezone.now()
        back, _ = await connected(other_token)
        await seen_after(returning, back_at)
        abandoned = await sync_to_async(services.chats_abandoned_sweep)()
        await socket.disconnect()
        await back.disconnect()
        return abandoned

    assert async_to_sync(scenario)() == 0
    for chat in (conversation, returning):
        chat.refresh_from_db()
        assert chat.status == ConversationStatus.OPEN and item_of(chat).state == ItemState.WAITING
