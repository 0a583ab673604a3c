"""Websocket consumers: they authenticate, join the groups the user may see, and relay.

No business logic here (STYLE #7): what is pushed is decided by the services that push
it (routing.push for offers and assignments).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from routing import push
from routing.models import AgentProfile

# Close codes in the 4000 range are the application's own; browsers see them on close.
NOT_SIGNED_IN = 4401
NOT_AN_AGENT = 4403


@database_sync_to_async
def _is_agent(user: Any) -> bool:
    return AgentProfile.objects.filter(user_id=user.pk).exists()


class AgentConsumer(AsyncJsonWebsocketConsumer):
    """An agent's live feed: offers, assignment changes and presence, from `agent.<id>`."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=NOT_SIGNED_IN)
            return
        if not await _is_agent(user):
            await self.close(code=NOT_AN_AGENT)
            return
        self.group = push.agent_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # The feed is one way; actions go through the REST API, which answers with errors.
        # Whatever arrives (even a frame that is not JSON) gets this answer, not a closed socket.
        await self.send_json({"type": "error", "code": "read_only",
                              "message": "This feed only sends; use the REST API to act."})

    async def routing_item(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def routing_presence(self, event: dict[str, Any]) -> None:
        await self.send_json(event)
