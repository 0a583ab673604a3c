"""What routing tells agents' browsers, pushed to their websocket group after commit.

Group names live here and nowhere else; the workspace consumers (conversations) join
`agent_group(user.pk)`. A push that fails (Redis down) is logged and dropped: the write
it announces has committed, and the agent's page reloads its state on reconnect.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # the write committed; a lost push must not turn it into an error
        log.warning("Could not push %s to %s", message.get("event"), group, exc_info=True)


def send_on_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send(group, message))


def item_changed(*, user_id: int, item: Any, event: str, previous: str | None = None) -> None:
    """An item was offered to, assigned to, taken from or closed for this agent."""
    message = {
        "type": "routing.item", "event": event, "item_id": item.pk,
        "conversation_id": item.conversation_id, "channel": item.channel, "state": item.state,
        "queue": item.queue.key if item.queue_id else None,
        "offer_expires_at": item.offer_expires_at.isoformat() if item.offer_expires_at else None,
    }
    if previous:
        message["previous_state"] = previous
    send_on_commit(agent_group(user_id), message)


def presence_changed(*, user_id: int, presence: str, reason: str = "") -> None:
    send_on_commit(agent_group(user_id), {"type": "routing.presence", "event": "presence",
                                          "presence": presence, "reason": reason})
