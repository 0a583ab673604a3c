"""The customer's chat socket over a real websocket stack and the real Redis channel layer:
only a valid session gets in, messages are acknowledged and stored once, a resync returns
exactly what was missed, the desk's replies arrive and its notes never do, bad frames get
clear errors on a socket that stays open, and a visitor only ever follows their own chat."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission

from conversations import services, widget
from conversations.consumers import NOT_SIGNED_IN
from conversations.models import (
    Channel,
    ContactReason,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
)
from supportdesk.push import flush
from supportdesk.routing import websocket_urlpatterns
from tests.factories import ContactFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


@pytest.fixture(autouse=True)
def _isolated(settings):
    # Rate-limit counters of other runs on the same Redis stay out of this test's; routing runs
    # in the test's own process, so nothing needs a worker (or reaches a shared broker).
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ALWAYS_EAGER = True


def visitor_token() -> tuple[widget.Session, str]:
    session = widget.Session(visitor=uuid.uuid4().hex)
    return session, widget.session_encode(session)


def communicator(token: str | None) -> WebsocketCommunicator:
    path = "/ws/chat/" if token is None else f"/ws/chat/?token={token}"
    return WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)


async def connected(token: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """A visitor's socket, open, with its `ready` frame."""
    socket = communicator(token)
    is_open, _ = await socket.connect()
    assert is_open
    ready = await socket.receive_json_from(timeout=5)
    assert ready["type"] == "ready"
    return socket, ready


async def pushes_sent() -> None:
    """Every push made so far has left for the channel layer (they leave after commit, on a thread)."""
    await sync_to_async(flush)()


async def frames_until(socket: WebsocketCommunicator, kind: str) -> list[dict[str, Any]]:
    """The frames up to and including the first of type `kind`."""
    frames = []
    while not frames or frames[-1]["type"] != kind:
        frames.append(await socket.receive_json_from(timeout=5))
    return frames


async def frames_until_message(socket: WebsocketCommunicator, *, sequence: int) -> list[dict[str, Any]]:
    """The frames up to and including the chat.message with this sequence number."""
    await pushes_sent()
    frames = []
    while not frames or (frames[-1]["type"], frames[-1].get("sequence")) != ("chat.message", sequence):
        frames.append(await socket.receive_json_from(timeout=5))
    return frames


def supervisor():
    user = UserFactory(first_name="Marta")
    user.user_permissions.add(Permission.objects.get(codename="supervise", content_type__app_label="supportdesk"))
    return user


def chat_with(session: widget.Session, *bodies: str) -> Conversation:
    for number, body in enumerate(bodies):
        message = services.visitor_message_send(session=session, body=body, client_id=f"setup-{number}")
    flush()  # those pushes have left before any socket of the test joins the group
    return Conversation.objects.get(pk=message.conversation_id)


# --- who may connect ------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "not-a-session-token", widget.session_encode(
    widget.Session(visitor="x"))[:-3] + "abc"], ids=["missing", "empty", "garbage", "tampered"])
def test_a_bad_or_missing_token_gets_an_error_frame_then_4401(token):
    async def scenario():
        socket = communicator(token)
        await socket.connect()
        error = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        return error, closed

    error, closed = async_to_sync(scenario)()

    assert error["type"] == "error" and error["code"] == "token_invalid" and error["message"]
    assert closed == {"type": "websocket.close", "code": NOT_SIGNED_IN}


# --- messages ---------------------------------------------------------------------------------------


def test_a_message_is_acked_with_sequence_1_opens_a_chat_and_is_stored_once_when_resent():
    session, token = visitor_token()

    async def scenario():
        socket, ready = await connected(token)
        await socket.send_json_to({"type": "message", "body": "Hola, mi pedido no llega", "client_id": "m-1"})
        ack = await socket.receive_json_from(timeout=5)
        # the connection dropped before the ack arrived, say: the widget sends it again
        await socket.send_json_to({"type": "message", "body": "Hola, mi pedido no llega", "client_id": "m-1"})
        first_frames = await frames_until(socket, "ack")
        ack_again = first_frames.pop()
        # a second tab of the same visitor follows the chat too (once the pushes so far have left)
        await pushes_sent()
        other_tab, other_ready = await connected(token)
        await socket.send_json_to({"type": "message", "body": "¿Dónde está?", "client_id": "m-2"})
        second_frames = await frames_until(socket, "ack")
        in_other_tab = await frames_until_message(other_tab, sequence=2)
        await pushes_sent()
        assert await socket.receive_nothing(timeout=0.5)  # no echo of its own message: it has the ack
        await socket.disconnect()
        await other_tab.disconnect()
        return ready, ack, ack_again, first_frames, second_frames, other_ready, in_other_tab

    ready, ack, ack_again, first_frames, second_frames, other_ready, in_other_tab = async_to_sync(scenario)()

    assert ready["conversation"] is None
    assert ack["type"] == "ack" and ack["client_id"] == "m-1" and ack["sequence"] == 1
    assert ack_again == ack
    conversation = Conversation.objects.get(pk=ack["conversation_id"])
    assert (conversation.channel, conversation.status) == (Channel.CHAT, ConversationStatus.OPEN)
    assert conversation.contact.external_id == session.visitor_external_id
    # The socket joined the chat it opened after the first message was stored, so the first
    # message is sent to it from the database; the group's push may deliver it again (the
    # widget drops repeats by sequence number).
    assert [frame["sequence"] for frame in first_frames if frame["type"] == "chat.message"] in ([1], [1, 1])
    assert [(frame["type"], frame.get("sequence")) for frame in second_frames] == [("ack", 2)]
    assert other_ready["conversation"]["id"] == conversation.pk
    # (the first message's push may still be on its way when the tab joins: it gets it too, and
    # the widget drops what it already shows)
    assert [(frame["sequence"], frame["body"]) for frame in in_other_tab if frame["type"] == "chat.message"] in (
        [(2, "¿Dónde está?")], [(1, "Hola, mi pedido no llega"), (2, "¿Dónde está?")])
    assert list(Message.objects.filter(conversation=conversation).order_by("sequence")
                .values_list("client_id", "sequence")) == [("m-1", 1), ("m-2", 2)]


def test_a_resync_returns_exactly_the_missing_messages_in_order_without_notes():
    # given a chat of six numbers, the fourth an internal note
    session, token = visitor_token()
    conversation = chat_with(session, "one", "two", "three")
    agent = supervisor()
    services.note_add(conversation_id=conversation.pk, user=agent, body="internal: VIP, be nice")
    services.agent_reply(conversation_id=conversation.pk, user=agent, body="five")
    services.visitor_message_send(session=session, body="six", client_id="six")
    flush()

    # when the widget, which had shown up to 2, reconnects and asks for what came after
    async def scenario():
        socket, ready = await connected(token)
        await socket.send_json_to({"type": "sync", "after": 2})
        frames = await frames_until(socket, "synced")
        await socket.disconnect()
        return ready, frames

    ready, frames = async_to_sync(scenario)()

    # then it gets 3, 5 and 6 in order, once each, and how far the chat goes
    assert ready["conversation"]["id"] == conversation.pk
    messages, synced = frames[:-1], frames[-1]
    assert [(m["type"], m["sequence"], m["body"]) for m in messages] == [
        ("chat.message", 3, "three"), ("chat.message", 5, "five"), ("chat.message", 6, "six")]
    assert messages[1]["direction"] == "out" and messages[1]["author"] == "Marta"
    assert synced["conversation"]["id"] == conversation.pk and synced["conversation"]["last_sequence"] == 6


def test_an_agent_reply_reaches_the_visitor_and_a_note_never_does():
    session, token = visitor_token()
    conversation = chat_with(session, "Where is my order?")
    agent = supervisor()

    async def scenario():
        socket, _ = await connected(token)
        await sync_to_async(services.note_add)(conversation_id=conversation.pk, user=agent,
                                               body="secret: refund approved")
        await sync_to_async(services.agent_reply)(conversation_id=conversation.pk, user=agent,
                                                  body="It is on its way")
        await pushes_sent()
        reply = await socket.receive_json_from(timeout=5)
        read = await socket.receive_json_from(timeout=5)
        nothing_more = await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()
        return reply, read, nothing_more

    reply, read, nothing_more = async_to_sync(scenario)()

    assert reply["type"] == "chat.message" and reply["direction"] == "out"
    assert (reply["sequence"], reply["body"], reply["author"]) == (3, "It is on its way", "Marta")
    # answering marks the customer's messages read: the widget shows them as seen
    assert read == {"type": "chat.read", "conversation_id": conversation.pk, "side": "agent", "sequence": 3}
    assert nothing_more
    assert Message.objects.filter(conversation=conversation, direction=MessageDirection.NOTE).count() == 1


def test_a_resolved_chat_is_announced_and_the_next_message_opens_a_new_one():
    session, token = visitor_token()
    conversation = chat_with(session, "Thanks, that was all")
    ContactReason.objects.get_or_create(key="other", defaults={"label": "Other"})
    agent = supervisor()

    async def scenario():
        socket, _ = await connected(token)
        await sync_to_async(services.conversation_resolve)(conversation_id=conversation.pk, user=agent,
                                                           contact_reason="other")
        await pushes_sent()
        status = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "message", "body": "One more question", "client_id": "n-1"})
        ack = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return status, ack

    status, ack = async_to_sync(scenario)()

    assert status == {"type": "chat.status", "conversation_id": conversation.pk, "status": "resolved"}
    assert ack["conversation_id"] != conversation.pk and ack["sequence"] == 1


# --- bad frames -------------------------------------------------------------------------------------


def test_an_oversized_frame_gets_too_large_and_the_socket_stays_usable(settings):
    settings.CHAT_FRAME_MAX_BYTES = 200
    _, token = visitor_token()

    async def scenario():
        socket, _ = await connected(token)
        await socket.send_json_to({"type": "message", "body": "x" * 500, "client_id": "big"})
        error = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "message", "body": "short", "client_id": "small"})
        ack = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return error, ack

    error, ack = async_to_sync(scenario)()

    assert error["type"] == "error" and error["code"] == "too_large" and "200 bytes" in error["message"]
    assert ack["type"] == "ack" and ack["client_id"] == "small" and ack["sequence"] == 1


@pytest.mark.parametrize(("text", "code"), [
    ("not json {", "bad_json"),
    ('{"type": "shout"}', "unknown_type"),
    ('["message"]', "unknown_type"),
    ('{"type": "message", "body": "", "client_id": "e"}', "empty_body"),
    ('{"type": "message", "body": "hi", "client_id": "spaces are not allowed"}', "invalid_client_id"),
    ('{"type": "sync", "after": "ten"}', "invalid_sequence"),
    ('{"type": "sync", "after": 99999999999999999999}', "invalid_sequence"),
    ('{"type": "email", "email": "not an address"}', "invalid_email"),
], ids=["not json", "unknown type", "not an object", "empty body", "bad client id", "bad sync", "huge sync",
        "bad email"])
def test_a_bad_frame_gets_a_clear_error_and_the_socket_stays_open(text, code):
    _, token = visitor_token()

    async def scenario():
        socket, _ = await connected(token)
        await socket.send_to(text_data=text)
        error = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "sync", "after": 0})
        after = await frames_until(socket, "synced")
        await socket.disconnect()
        return error, after

    error, after = async_to_sync(scenario)()

    assert error["type"] == "error" and error["code"] == code and error["message"]
    assert after[-1]["type"] == "synced"


def test_a_message_over_the_length_limit_is_refused_as_too_long(settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 10
    _, token = visitor_token()

    async def scenario():
        socket, _ = await connected(token)
        await socket.send_json_to({"type": "message", "body": "far more than ten characters", "client_id": "l"})
        error = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return error

    error = async_to_sync(scenario)()

    assert (error["code"], error["in_reply_to"]) == ("too_long", "message")
    assert not Message.objects.exists()


def test_a_visitor_over_their_rate_is_told_to_wait(settings):
    # given a visitor allowed three frames a minute
    settings.CHAT_RATE_VISITOR = "3/60"
    _, token = visitor_token()

    # when they send a fourth
    async def scenario():
        socket, _ = await connected(token)
        answers = []
        for _ in range(4):
            await socket.send_json_to({"type": "sync", "after": 0})
            answers.append((await frames_until(socket, "synced" if len(answers) < 3 else "error"))[-1])
        await socket.disconnect()
        return answers

    answers = async_to_sync(scenario)()

    # then the first three are answered and the fourth is refused, saying so
    assert [answer["type"] for answer in answers] == ["synced", "synced", "synced", "error"]
    assert answers[3]["code"] == "rate_limited" and "wait" in answers[3]["message"]


def test_connections_are_rate_limited_per_address(settings):
    settings.CHAT_RATE_CONNECT_IP = "1/60"
    _, token = visitor_token()

    async def scenario():
        first, _ = await connected(token)
        second = communicator(token)
        await second.connect()
        error = await second.receive_json_from(timeout=5)
        closed = await second.receive_output(timeout=5)
        await first.disconnect()
        return error, closed

    error, closed = async_to_sync(scenario)()

    assert error["code"] == "rate_limited" and error["retry_after"] > 0
    assert closed["type"] == "websocket.close" and closed["code"] == 4429


# --- isolation ---------------------------------------------------------------------------------------


def test_a_visitor_only_ever_follows_their_own_chat():
    # given another visitor's chat
    other_session, _ = visitor_token()
    other_chat = chat_with(other_session, "my address is Carrer Major 1")
    agent = supervisor()
    _, token = visitor_token()

    # when a second visitor connects, asks for everything, even naming the other chat, and marks it read
    async def scenario():
        socket, ready = await connected(token)
        await socket.send_json_to({"type": "sync", "after": 0, "conversation_id": other_chat.pk})
        synced = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "read", "sequence": 1, "conversation_id": other_chat.pk})
        refused = await socket.receive_json_from(timeout=5)
        await sync_to_async(services.agent_reply)(conversation_id=other_chat.pk, user=agent,
                                                  body="We will deliver to Carrer Major 1")
        await pushes_sent()
        nothing = await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()
        return ready, synced, refused, nothing

    ready, synced, refused, nothing = async_to_sync(scenario)()

    # then they see no chat, none of its messages, and none of its replies
    assert ready["conversation"] is None
    assert synced["type"] == "synced" and synced["conversation"] is None
    assert refused["type"] == "error" and refused["code"] == "no_conversation"
    assert nothing
    other_chat.refresh_from_db()
    assert other_chat.contact_read_sequence == 0


def test_an_identified_contact_resumes_their_chat_on_a_new_socket():
    # given a contact the host site identified, with a chat going
    contact = ContactFactory()
    session = widget.Session(contact_id=contact.pk)
    conversation = chat_with(session, "Hello")

    # when their widget connects again (another tab, a reload)
    async def scenario():
        socket, ready = await connected(widget.session_encode(session))
        await socket.send_json_to({"type": "sync", "after": 0})
        frames = await frames_until(socket, "synced")
        await socket.disconnect()
        return ready, frames

    ready, frames = async_to_sync(scenario)()

    # then it follows that chat and shows its history
    assert ready["conversation"]["id"] == conversation.pk and ready["conversation"]["last_sequence"] == 1
    assert [(frame["type"], frame.get("body")) for frame in frames] == [("chat.message", "Hello"),
                                                                        ("synced", None)]
