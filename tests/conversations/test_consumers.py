"""The agent's live feed over a real websocket stack and the real Redis channel layer:
only a signed-in agent joins, and routing's pushes reach them after commit."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from conversations.consumers import NOT_AN_AGENT, NOT_SIGNED_IN
from routing import push, services
from routing.models import Presence, Queue
from tests.factories import AgentProfileFactory, UserFactory
from tests.sockets import agent_communicator

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_channel_layer")]


def _communicator(user) -> WebsocketCommunicator:
    return agent_communicator(user)


@pytest.mark.parametrize(("who", "code"), [("anonymous", NOT_SIGNED_IN), ("not an agent", NOT_AN_AGENT)])
def test_only_a_signed_in_agent_may_connect(who, code):
    user = AnonymousUser() if who == "anonymous" else UserFactory()

    async def scenario():
        communicator = _communicator(user)
        connected, close_code = await communicator.connect()
        return connected, close_code

    assert async_to_sync(scenario)() == (False, code)


def test_an_offer_reaches_the_agents_socket_and_a_frame_sent_back_gets_an_answer():
    Queue.objects.create(key="general", name="General")
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    services.presence_set(user=profile.user, presence=Presence.ONLINE)
    push.flush()  # that presence push has gone out before the socket joins the group

    async def scenario():
        communicator = _communicator(profile.user)
        connected, _ = await communicator.connect()
        assert connected
        item = await sync_to_async(services.work_item_enqueue)(
            conversation_id=42, channel="chat", attributes={"language": "es"})
        await sync_to_async(push.flush)()
        offer = await communicator.receive_json_from(timeout=5)
        await communicator.send_to(text_data="not json {")
        answer = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return item, offer, answer

    item, offer, answer = async_to_sync(scenario)()

    assert offer["type"] == "routing.item" and offer["event"] == "offered"
    assert offer["item_id"] == item.pk and offer["conversation_id"] == 42
    assert answer["type"] == "error" and answer["code"] == "bad_json"


def test_the_browser_path_signs_in_with_the_session_cookie_and_checks_the_origin(client):
    from supportdesk.asgi import application

    profile = AgentProfileFactory()
    client.force_login(profile.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def connect(origin: bytes) -> bool:
        communicator = WebsocketCommunicator(application, "/ws/agent/",
                                             headers=[(b"origin", origin), (b"cookie", cookie),
                                                      (b"host", b"localhost")])
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    assert async_to_sync(connect)(b"http://localhost") is True
    assert async_to_sync(connect)(b"http://evil.example") is False
