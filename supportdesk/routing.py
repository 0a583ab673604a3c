"""Websocket URL routes. The agent workspace and chat widget consumers plug in here."""

websocket_urlpatterns: list = []
