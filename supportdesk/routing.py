"""Websocket URL routes. The chat widget's consumer comes with the live-chat issue."""

from django.urls import path

from conversations.consumers import AgentConsumer

websocket_urlpatterns: list = [
    path("ws/agent/", AgentConsumer.as_asgi()),
]
