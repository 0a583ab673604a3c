"""Websocket test helpers: an agent's socket with the scope a browser's login cookie gives."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from typing import Any

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections

from supportdesk.routing import websocket_urlpatterns


def login_session_key(user: Any) -> str:
    """A real login session for `user` (as the desk's login makes), from sync or async code alike:
    it is made on a thread of its own, where no event loop forbids the database."""

    def login() -> str:
        from django.test import Client

        try:
            client = Client()
            client.force_login(user)
            return client.session.session_key
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(login).result()


def agent_communicator(user: Any, path: str = "/ws/agent/", *,
                       session_key: str | None = None) -> WebsocketCommunicator:
    """What AuthMiddlewareStack hands the consumer for a signed-in browser: the user and the session."""
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    if getattr(user, "is_authenticated", False):
        store = import_module(settings.SESSION_ENGINE).SessionStore
        communicator.scope["session"] = store(session_key or login_session_key(user))
    return communicator
