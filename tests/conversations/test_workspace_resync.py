"""What the workspace resyncs with when a push went missing: the agent socket's `sync` frame,
answered from the database for a conversation the agent may see, and refused as not found
(sending nothing) for any other. What it sends to one who may is covered in
test_agent_consumer.py; the browser side in tests/browser/test_workspace_gaps.py."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from conversations import services, widget
from routing import push
from routing import services as routing
from routing.models import Presence, Queue, WorkItem
from tests.conversations.test_agent_consumer import _communicator, _frames_until
from tests.factories import AgentProfileFactory, ContactFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


def _agent_with_a_chat():
    Queue.objects.get_or_create(key="general", defaults={"name": "General"})
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    contact = ContactFactory(preferred_language="es")
    conversation = services.conversation_open(contact=contact, channel="chat")
    services.offer_accept(item_id=WorkItem.objects.get(conversation_id=conversation.pk).pk, user=profile.user)
    push.flush()
    return profile, conversation, widget.Session(contact_id=contact.pk)


def test_a_sync_on_a_conversation_the_agent_may_not_see_is_refused_as_not_found_and_sends_nothing():
    profile, conversation, session = _agent_with_a_chat()
    services.visitor_message_send(session=session, body="datos privados")
    stranger = AgentProfileFactory(languages=["es"])

    async def scenario():
        communicator = _communicator(stranger.user)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"type": "sync", "conversation_id": conversation.pk, "after": 0})
        frames = await _frames_until(communicator, lambda f: f["type"] in ("synced", "error"))
        await communicator.disconnect()
        return frames

    frames = async_to_sync(scenario)()

    assert [(f["type"], f.get("code"), f.get("in_reply_to")) for f in frames] == [("error", "not_found", "sync")]
