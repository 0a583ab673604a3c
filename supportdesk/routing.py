"""Websocket URL routes: the agents' workspace feed and the customers' chat widget."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from conversations.consumers import AgentConsumer
from conversations.visitor_consumer import VisitorConsumer


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any other path: refused at the handshake (403), instead of the router's "no route" error (a 500)."""

    async def connect(self) -> None:
        await self.close()


websocket_urlpatterns: list = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/chat/", VisitorConsumer.as_asgi()),
    re_path(r"", UnknownPathConsumer.as_asgi()),  # last: whatever the routes above did not take
]
