"""PostgreSQL down, hanging or restarted, through a proxy in front of the real server (the
shared server itself is never stopped): every door answers 503 in its own shape and says
when to retry, sockets get an error frame and live on, and after a restart no dead pooled
connection is handed out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import OperationalError, connections
from django.test import RequestFactory
from rest_framework.authtoken.models import Token

from conversations import widget
from supportdesk import views
from supportdesk.routing import websocket_urlpatterns
from supportdesk.unavailable import TRY_AGAIN_LATER
from tests.asgi_client import AsgiClient, AsgiResponse
from tests.dbproxy import TcpProxy, database_through

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _isolated(settings):
    settings.REDIS_KEY_PREFIX = f"test-{uuid.uuid4().hex}"  # rate limits and heartbeats of its own
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    server = connections["default"].settings_dict
    proxy = TcpProxy((server["HOST"] or "localhost", int(server["PORT"] or 5432)))
    with database_through(proxy):
        yield proxy
    proxy.close()


@pytest.fixture
def doors(client, agent) -> dict[str, str]:
    """An agent's session cookie (the desk) and API token."""
    client.force_login(agent)
    return {"cookie": f"sessionid={client.cookies['sessionid'].value}",
            "token": Token.objects.create(user=agent).key}


def desk_page(doors: dict[str, str]) -> AsgiResponse:
    return AsgiClient().request("GET", "/desk/", headers={"Cookie": doors["cookie"], "Accept": "text/html"})


def api_list(doors: dict[str, str]) -> AsgiResponse:
    return AsgiClient().request("GET", "/api/v1/conversations/",
                                headers={"Authorization": f"Token {doors['token']}"})


@pytest.mark.parametrize("fault", ["refuse", "blackhole"])
def test_while_the_database_cannot_be_reached_every_door_answers_503_in_its_shape(proxy, doors, fault,
                                                                                 settings):
    getattr(proxy, fault)()
    proxy.cut()

    page = desk_page(doors)
    api = api_list(doors)
    widget_session = AsgiClient().post("/widget/session")
    ready = AsgiClient().get("/readyz")

    retry_after = str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS)
    assert (page.status_code, page["content-type"], page["retry-after"]) == (
        503, "text/html; charset=utf-8", retry_after)
    assert b'data-code="unavailable"' in page.content and b"Back in a moment" in page.content
    for response in (api, widget_session):
        assert (response.status_code, response["retry-after"]) == (503, retry_after)
        assert response.json()["error"]["code"] == "unavailable"
    assert ready.status_code == 503 and "database" in ready.json()["failing"]


def test_after_a_restart_the_next_request_gets_a_live_connection(proxy, doors):
    assert api_list(doors).status_code == 200  # the pool now holds a connection

    proxy.cut()  # what a restart does to every open connection; new ones are welcome

    assert api_list(doors).status_code == 200
    assert desk_page(doors).status_code == 200


def test_a_failure_outside_any_view_is_a_503_too():
    request = RequestFactory().get("/api/v1/conversations/")
    try:  # the 500 handler runs inside Django's `except`, e.g. for a session that failed to save
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = views.server_error(request)

    assert response.status_code == 503 and int(response["Retry-After"]) > 0


async def _frame(socket: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    while True:
        frame = await socket.receive_json_from(timeout=30)
        if frame["type"] == kind:
            return frame


def test_a_visitors_socket_gets_an_error_frame_in_an_outage_and_its_resend_goes_through_after(
        proxy, private_channel_layer):
    token = widget.session_encode(widget.Session(visitor=uuid.uuid4().hex))

    async def scenario() -> tuple[dict, dict, dict]:
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/?token={token}")
        assert (await socket.connect(timeout=30))[0]
        await _frame(socket, "ready")
        await socket.send_json_to({"type": "message", "body": "Hello", "client_id": "c1"})
        first = await _frame(socket, "ack")

        proxy.refuse()
        proxy.cut()
        await socket.send_json_to({"type": "message", "body": "Still there?", "client_id": "c2"})
        error = await _frame(socket, "error")

        proxy.open()
        deadline = time.monotonic() + 60  # the widget resends until acked; a deadline, not a speed
        while True:
            await socket.send_json_to({"type": "message", "body": "Still there?", "client_id": "c2"})
            answer = await socket.receive_json_from(timeout=30)
            while answer["type"] not in ("ack", "error"):
                answer = await socket.receive_json_from(timeout=30)
            if answer["type"] == "ack" or time.monotonic() > deadline:
                break
        await socket.disconnect()
        return first, error, answer

    first, error, answer = async_to_sync(scenario)()

    assert (error["code"], error["in_reply_to"]) == ("unavailable", "message")
    assert (answer["type"], answer["client_id"], answer["conversation_id"], answer["sequence"]) == (
        "ack", "c2", first["conversation_id"], 2)


def test_an_agents_socket_opened_in_an_outage_is_told_why_and_to_try_again(proxy, agent):
    proxy.refuse()
    proxy.cut()

    async def scenario() -> tuple[bool, dict, dict]:
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/agent/")
        socket.scope["user"] = agent
        connected, _ = await socket.connect(timeout=30)
        error = await socket.receive_json_from(timeout=30)
        closed = await socket.receive_output(timeout=30)
        return connected, error, closed

    connected, error, closed = async_to_sync(scenario)()

    assert connected and error["code"] == "unavailable"
    assert closed == {"type": "websocket.close", "code": TRY_AGAIN_LATER}


def test_an_agents_browser_socket_is_told_why_even_when_signing_in_needs_the_database(proxy, doors):
    from supportdesk.asgi import application

    proxy.refuse()
    proxy.cut()

    async def scenario() -> tuple[bool, dict, dict]:
        socket = WebsocketCommunicator(application, "/ws/agent/", headers=[
            (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", doors["cookie"].encode())])
        connected, _ = await socket.connect(timeout=30)
        error = await socket.receive_json_from(timeout=30)
        closed = await socket.receive_output(timeout=30)
        return connected, error, closed

    connected, error, closed = async_to_sync(scenario)()

    assert connected and (error["type"], error["code"]) == ("error", "unavailable")
    assert closed == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
