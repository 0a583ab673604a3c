"""The agent's socket (/ws/agent/) over the real Redis channel layer: it follows exactly the
conversations assigned to the agent, lets them watch only what they may see (a supervisor:
anything, notes included), resyncs by sequence number and keeps presence alive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission
from django.utils import timezone

from conversations import services, widget
from conversations.models import ContactReason, MessageDirection
from routing import push
from routing import services as routing
from routing.models import AgentProfile, Presence, Queue, WorkItem
from tests.factories import AgentProfileFactory, ContactFactory, ConversationFactory, UserFactory
from tests.sockets import agent_communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]

# Only a guard against a test that hangs: no assertion depends on how fast anything is.
RECEIVE_TIMEOUT = 5


def _communicator(user) -> WebsocketCommunicator:
    return agent_communicator(user)


async def _frames_until(communicator: WebsocketCommunicator, done) -> list[dict]:
    """Every frame received up to and including the first for which `done` holds."""
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=RECEIVE_TIMEOUT)
        frames.append(frame)
        if done(frame):
            return frames


def _online_agent():
    Queue.objects.get_or_create(key="general", defaults={"name": "General"})
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    return profile


def _supervisor():
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="supervise", content_type__app_label="supportdesk"))
    return user


def test_the_socket_follows_a_conversation_while_it_is_assigned_and_stops_when_it_leaves():
    profile = _online_agent()
    contact = ContactFactory(preferred_language="es")
    ContactReason.objects.create(key="question", label="Question")
    push.flush()  # the presence push has gone out before the socket joins

    async def scenario():
        communicator = _communicator(profile.user)
        assert (await communicator.connect())[0]

        # Given a chat offered to the agent, when they accept it ...
        conversation = await sync_to_async(services.conversation_open)(contact=contact, channel="chat")
        item = await sync_to_async(WorkItem.objects.get)(conversation_id=conversation.pk)
        await sync_to_async(services.offer_accept)(item_id=item.pk, user=profile.user)
        await sync_to_async(push.flush)()
        await _frames_until(communicator, lambda f: f["type"] == "routing.item" and f["event"] == "accepted")

        # ... the customer's next message reaches their socket without a watch.
        session = widget.Session(contact_id=contact.pk)
        await sync_to_async(services.visitor_message_send)(session=session, body="¿Dónde está mi pedido?")
        await sync_to_async(push.flush)()
        arrived = await _frames_until(communicator, lambda f: f["type"] == "chat.message")

        # When the conversation is resolved, the socket leaves it: a later message does not come,
        # while a push to the agent's own group sent after it does.
        await sync_to_async(services.conversation_resolve)(
            conversation_id=conversation.pk, user=profile.user, contact_reason="question")
        await sync_to_async(push.flush)()
        await _frames_until(communicator, lambda f: f["type"] == "routing.item" and f["event"] == "completed")
        await sync_to_async(services.message_create)(
            conversation=conversation, direction=MessageDirection.INBOUND, body="one more thing")
        await sync_to_async(push.flush)()
        await get_channel_layer().group_send(push.agent_group(profile.user.pk), {
            "type": "routing.presence", "event": "presence", "presence": "marker", "reason": ""})
        after = await _frames_until(communicator, lambda f: f.get("presence") == "marker")
        await communicator.disconnect()
        return conversation, arrived[-1], after

    conversation, arrived, after = async_to_sync(scenario)()

    assert arrived["conversation_id"] == conversation.pk and arrived["body"] == "¿Dónde está mi pedido?"
    assert arrived["direction"] == "in" and arrived["sequence"] == 1
    assert not [f for f in after if f["type"] == "chat.message"]


def test_watching_a_conversation_that_is_not_theirs_is_refused_as_not_found():
    profile = _online_agent()
    conversation = ConversationFactory()  # never offered to them

    async def scenario():
        communicator = _communicator(profile.user)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "watch", "conversation_id": conversation.pk})
        answer = await _frames_until(communicator, lambda f: f["type"] in ("error", "watching"))
        await communicator.disconnect()
        return answer[-1]

    answer = async_to_sync(scenario)()

    assert answer["type"] == "error" and answer["code"] == "not_found" and answer["in_reply_to"] == "watch"


def test_a_supervisor_may_watch_any_conversation_and_sees_its_internal_notes():
    supervisor = _supervisor()
    agent = AgentProfileFactory().user
    conversation = ConversationFactory()

    async def scenario():
        communicator = _communicator(supervisor)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "watch", "conversation_id": conversation.pk})
        watching = await _frames_until(communicator, lambda f: f["type"] in ("error", "watching"))
        await sync_to_async(services.message_create)(
            conversation=conversation, direction=MessageDirection.NOTE, body="VIP: be generous", author=agent)
        await sync_to_async(push.flush)()
        note = await _frames_until(communicator, lambda f: f["type"] == "chat.message")
        await communicator.disconnect()
        return watching[-1], note[-1]

    watching, note = async_to_sync(scenario)()

    assert watching == {"type": "watching", "conversation_id": conversation.pk}
    assert note["direction"] == "note" and note["body"] == "VIP: be generous"


def test_sync_sends_the_messages_after_a_sequence_in_order_notes_included():
    profile = _online_agent()
    conversation = services.conversation_open(contact=ContactFactory(preferred_language="es"), channel="chat")
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=conversation.pk).pk, user=profile.user)
    for direction, body in [("in", "hola"), ("out", "¿Qué tal?"), ("note", "checked the order"),
                            ("in", "llega tarde")]:
        services.message_create(conversation=conversation, direction=direction, body=body,
                                author=None if direction == "in" else profile.user)
    push.flush()  # those pushes are gone before the socket joins the conversation

    async def scenario():
        communicator = _communicator(profile.user)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after": 1})
        frames = await _frames_until(communicator, lambda f: f["type"] in ("synced", "error"))
        await communicator.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after": -1})
        refused = await _frames_until(communicator, lambda f: f["type"] == "error")
        await communicator.disconnect()
        return frames, refused[-1]

    frames, refused = async_to_sync(scenario)()

    messages = [f for f in frames if f["type"] == "chat.message"]
    assert [(m["sequence"], m["direction"], m["body"]) for m in messages] == [
        (2, "out", "¿Qué tal?"), (3, "note", "checked the order"), (4, "in", "llega tarde")]
    assert frames[-1]["type"] == "synced" and frames[-1]["conversation"]["last_sequence"] == 4
    assert refused["code"] == "invalid_sequence"


def test_a_heartbeat_frame_records_that_the_agent_is_still_there():
    profile = _online_agent()
    long_ago = timezone.now() - timedelta(hours=1)
    AgentProfile.objects.filter(pk=profile.pk).update(last_heartbeat_at=long_ago)

    async def scenario():
        communicator = _communicator(profile.user)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "heartbeat"})
        # Frames are handled in order: once this one is answered, the heartbeat was handled.
        await communicator.send_to(text_data="not json")
        await _frames_until(communicator, lambda f: f.get("code") == "bad_json")
        await communicator.disconnect()

    async_to_sync(scenario)()

    profile.refresh_from_db()
    assert profile.last_heartbeat_at > long_ago and profile.presence == Presence.ONLINE


@pytest.mark.parametrize("conversation_id", ["7", 0, 2**70, True], ids=["text", "zero", "past bigint", "bool"])
def test_a_frame_naming_no_possible_conversation_gets_a_clear_error(conversation_id):
    profile = _online_agent()

    async def scenario():
        communicator = _communicator(profile.user)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "sync", "conversation_id": conversation_id, "after": 0})
        answer = await _frames_until(communicator, lambda f: f["type"] in ("error", "synced"))
        await communicator.disconnect()
        return answer[-1]

    answer = async_to_sync(scenario)()

    assert answer["type"] == "error" and answer["code"] == "invalid_conversation_id"
