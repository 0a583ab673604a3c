"""Websocket URL routes: the agents' workspace feed and the customers' chat widget."""

from django.urls import path

from conversations.consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns: list = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/chat/", VisitorConsumer.as_asgi()),
]
