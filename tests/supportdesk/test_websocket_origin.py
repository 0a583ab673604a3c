"""The websocket Origin check compares the whole origin: scheme, host and port."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from supportdesk.websocket_origin import origin_allowed


@pytest.fixture(autouse=True)
def _hosts(settings):
    settings.ALLOWED_HOSTS = ["desk.example.com", "localhost"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://support.example.com"]


@pytest.mark.parametrize(("origin", "host", "scheme", "allowed"), [
    ("https://desk.example.com", "desk.example.com", "wss", True),
    ("https://desk.example.com:443", "desk.example.com", "wss", True),  # the default port, written out
    ("http://localhost:8000", "localhost:8000", "ws", True),
    # the same host on another port is another site (the hole: Channels' check ignored the port)
    ("http://localhost:8001", "localhost:8000", "ws", False),
    ("https://desk.example.com:8443", "desk.example.com", "wss", False),
    # another scheme, another host, a host not allowed, odd or missing origins
    ("http://desk.example.com", "desk.example.com", "wss", False),
    ("https://evil.example.com", "desk.example.com", "wss", False),
    ("https://evil.example.com", "evil.example.com", "wss", False),
    ("https://desk.example.com.evil.net", "desk.example.com", "wss", False),
    ("null", "desk.example.com", "wss", False),
    ("", "desk.example.com", "wss", False),
    (None, "desk.example.com", "wss", False),
    ("https://desk.example.com:99999", "desk.example.com", "wss", False),
    ("https://desk.example.com/path", "desk.example.com", "wss", False),
    # a trusted origin (a proxy in front, another name of the desk) passes as listed, port included
    ("https://support.example.com", "internal:8000", "ws", True),
    ("https://support.example.com:8443", "internal:8000", "ws", False),
])
def test_only_the_sites_own_origin_or_a_trusted_one_may_open_a_socket(origin, host, scheme, allowed):
    assert origin_allowed(origin=origin, host=host, scheme=scheme) is allowed


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("private_channel_layer")
def test_the_asgi_application_refuses_a_socket_from_another_port_of_the_same_host():
    from supportdesk.asgi import application

    async def handshake(origin: bytes) -> bool:
        communicator = WebsocketCommunicator(application, "/ws/chat/?token=x",
                                             headers=[(b"origin", origin), (b"host", b"localhost:8000")])
        connected, _ = await communicator.connect()
        if connected:
            await communicator.disconnect()
        return connected

    assert async_to_sync(handshake)(b"http://localhost:8000") is True
    assert async_to_sync(handshake)(b"http://localhost:9999") is False
