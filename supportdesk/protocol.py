"""The websocket protocol's shared names: close codes and frame types (both ways), in one place.

Python (consumers and the push modules) reads them from here; the browsers' ES modules
import `static/common/protocol.js`, which is generated from this module
(`python manage.py protocol_js`) and checked equal to it by a test, so a renamed frame or
a new close code cannot reach one side only.
"""

from __future__ import annotations

import json


class CloseCode:
    """Codes in the 4000 range are the application's own; browsers see them on close."""

    TRY_AGAIN_LATER = 1013  # RFC 6455's code for a server that cannot serve the socket just now
    NOT_SIGNED_IN = 4401
    NOT_AN_AGENT = 4403
    RATE_LIMITED = 4429


class Frame:
    """The `type` of the frames the server sends to browsers (channel-layer events keep the
    same names: `chat.message` is handled by a consumer's `chat_message`)."""

    READY = "ready"
    SYNCED = "synced"
    WATCHING = "watching"
    ACK = "ack"
    ERROR = "error"
    EMAIL_SAVED = "email_saved"
    ENDED = "ended"
    CHAT_MESSAGE = "chat.message"
    CHAT_TYPING = "chat.typing"
    CHAT_READ = "chat.read"
    CHAT_STATUS = "chat.status"
    CHAT_AGENT = "chat.agent"
    CHAT_NOTICE = "chat.notice"
    CHAT_SURVEY = "chat.survey"
    CHAT_DELIVERY = "chat.delivery"
    CHAT_CALL = "chat.call"
    RATED = "rated"
    ROUTING_ITEM = "routing.item"
    ROUTING_PRESENCE = "routing.presence"
    SUPERVISOR_SNAPSHOT = "supervisor.snapshot"


class ClientFrame:
    """The `type` of the frames browsers send; a consumer answers each with `frame_<type>`."""

    SYNC = "sync"
    READ = "read"
    TYPING = "typing"
    MESSAGE = "message"
    EMAIL = "email"
    RATE = "rate"
    END = "end"
    WATCH = "watch"
    UNWATCH = "unwatch"
    HEARTBEAT = "heartbeat"


def constants(holder: type) -> dict[str, int | str]:
    """A holder's names and values (the upper-case attributes)."""
    return {name: value for name, value in vars(holder).items() if name.isupper()}


def js_module() -> str:
    """The text of static/common/protocol.js."""
    lines = ["// Generated from supportdesk/protocol.py by `python manage.py protocol_js`: edit that, not this.",
             "// tests/supportdesk/test_protocol.py fails while the two differ.", ""]
    for holder in (CloseCode, Frame, ClientFrame):
        body = json.dumps(constants(holder), indent=2)
        lines.append(f"export const {holder.__name__} = Object.freeze({body});")
        lines.append("")
    return "\n".join(lines)
