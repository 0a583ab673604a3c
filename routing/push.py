"""What routing tells agents' browsers, pushed to their websocket group after commit.

Group names live here and nowhere else; the workspace consumers (conversations) join
`agent_group(user.pk)`. Sending goes through supportdesk.push (after commit, in order).
"""

from __future__ import annotations

from typing import Any

from supportdesk.protocol import Frame
from supportdesk.push import flush, send_on_commit  # noqa: F401  (re-exported for callers and tests)


def agent_group(user_id: int) -> str:
    return f"agent.{user_id}"


def item_changed(*, user_id: int, item: Any, event: str, previous: str | None = None) -> None:
    """An item was offered to, assigned to, taken from or closed for this agent."""
    message = {
        "type": Frame.ROUTING_ITEM, "event": event, "item_id": item.pk,
        "conversation_id": item.conversation_id, "channel": item.channel, "state": item.state,
        "queue": item.queue.key if item.queue_id else None,
        "offer_expires_at": item.offer_expires_at.isoformat() if item.offer_expires_at else None,
    }
    if previous:
        message["previous_state"] = previous
    send_on_commit(agent_group(user_id), message)


def presence_changed(*, user_id: int, presence: str, reason: str = "") -> None:
    send_on_commit(agent_group(user_id), {"type": Frame.ROUTING_PRESENCE, "event": "presence",
                                          "presence": presence, "reason": reason})
