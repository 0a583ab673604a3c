"""Websocket consumers: they authenticate, join the groups the user may see, and relay.

The agent's socket is here, with what both sockets share (the frame checks, rate limits and
error frames); the visitor's is in conversations.visitor_consumer.

No business logic here (STYLE #7): each frame a browser sends is parsed and handed to
one service; what is pushed is decided by the services that push it (routing.push,
conversations.push). Every bad frame gets an error frame back, never a dropped socket:

    {"type": "error", "code": "too_large" | "bad_json" | "unknown_type" | "rate_limited" | ...,
     "message": "...", "retry_after": seconds (rate_limited only)}

The visitor's socket (`/ws/chat/?token=<session token>`) joins only its own chat's
group; an agent's (`/ws/agent/`) joins their routing group and the conversations
assigned to them, and one they open if they may see it; a supervisor's also joins the
live view's group and any conversation they open.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from conversations import access, selectors, services
from conversations import push as chat_push
from routing import push
from routing import services as routing
from routing.models import ItemState, WorkItem
from supportdesk import metrics, ratelimit
from supportdesk.access import session_is_current
from supportdesk.errors import DomainError
from supportdesk.json_input import JsonInputError, json_loads
from supportdesk.protocol import ClientFrame, CloseCode
from supportdesk.unavailable import TRY_AGAIN_LATER, database_unavailable, unavailable_frame

log = logging.getLogger(__name__)

# The close codes browsers see, named once for Python and the JS (supportdesk.protocol).
NOT_SIGNED_IN = CloseCode.NOT_SIGNED_IN
NOT_AN_AGENT = CloseCode.NOT_AN_AGENT
RATE_LIMITED = CloseCode.RATE_LIMITED


MAX_ID = 2**63 - 1  # bigint
MAX_SEQUENCE = 2**31 - 1  # a message's sequence column


class FrameError(DomainError):
    pass


class JsonConsumer(AsyncWebsocketConsumer):
    """Parses frames into JSON objects with a `type`, dispatches them to `frame_<type>`,
    and answers every failure with an error frame."""

    frame_types: frozenset[str] = frozenset()
    socket_kind = "socket"  # the label of /metrics' websocket_connections
    # The language of what the socket says (error frames): None speaks the server's own (the
    # desk's socket); the visitor's takes the customer's (conversations.visitor_consumer).
    language: str | None = None

    def handshake_language(self) -> str | None:
        """The language to speak from the handshake on, before the socket knows its user."""
        return None

    def speaking(self) -> AbstractContextManager[Any]:
        """The socket's language, active while it handles a frame: the error messages raised
        on the way (gettext at the raise) come out in it."""
        return translation.override(self.language) if self.language else nullcontext()

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        # Counted while open, whatever the handshake's outcome; uncounted on disconnect.
        metrics.count("websocket_connections", {"socket": self.socket_kind})
        self.metrics_counted = True
        self.language = self.handshake_language()
        with self.speaking():
            await super().websocket_connect(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if getattr(self, "metrics_counted", False):
            self.metrics_counted = False
            metrics.count("websocket_connections", {"socket": self.socket_kind}, -1)
        await super().websocket_disconnect(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch closes stale database connections on a thread before every
        # event, a thread hop per message relayed. Here only `database_sync_to_async` touches
        # the database, and it closes them itself, on its thread, around each call.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except Exception as exc:
            # Connecting, or relaying a group's event that needed the database (a refresh of
            # the assigned chats): the socket survives an outage; a closing one just closes.
            if not database_unavailable(exc) or message["type"] == "websocket.disconnect":
                raise
            await self.send_unavailable(connecting=message["type"] == "websocket.connect")

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self.accepted = True
        await super().accept(subprotocol, headers)

    async def send_unavailable(self, *, connecting: bool = False, **extra: Any) -> None:
        """An error frame instead of a dead socket while PostgreSQL cannot be reached. A
        socket that could not finish connecting is then closed "try again later"."""
        log.warning("Websocket %s: database unavailable", self.scope.get("path"))
        if connecting and not getattr(self, "accepted", False):
            await self.accept()  # accepted first, so the browser can read why it is closed
        with self.speaking():
            frame = unavailable_frame()
        await self.send_json({**frame, **extra})
        if connecting:
            await self.close(code=TRY_AGAIN_LATER)

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":"), default=str))

    async def send_error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        with self.speaking():
            await self._frame_receive(text_data if text_data is not None else bytes_data or b"")

    async def _frame_receive(self, raw: str | bytes) -> None:
        # Every frame counts against the limits, whatever it holds: a flood of malformed frames
        # costs the desk as much parsing as a flood of good ones.
        wait = await self.rate_check()
        if wait:
            await self.send_error("rate_limited", gettext("Too many messages; wait %(seconds)s seconds.")
                                  % {"seconds": f"{wait:g}"}, retry_after=wait)
            return
        if not await self.still_allowed():
            return
        if len(raw) > settings.CHAT_FRAME_MAX_BYTES:
            await self.send_error("too_large", gettext("A frame may have at most %(max)s bytes.")
                                  % {"max": settings.CHAT_FRAME_MAX_BYTES})
            return
        try:
            frame = json_loads(raw)
        except JsonInputError as error:
            await self.send_error(error.code, error.message)
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        # Only a string can name a frame type (a list or an object in `type` is not hashable).
        if not isinstance(kind, str) or kind not in self.frame_types:
            await self.send_error("unknown_type", gettext("Frame types here: %(types)s.")
                                  % {"types": ", ".join(sorted(self.frame_types))})
            return
        try:
            await getattr(self, f"frame_{kind}")(frame)
        except DomainError as error:
            await self.send_error(error.code, error.message, **({"in_reply_to": kind}))
        except Exception as exc:  # a bug must not cost the user their socket
            if database_unavailable(exc):
                await self.send_unavailable(in_reply_to=kind)
                return
            log.exception("Websocket frame %s failed", kind)
            await self.send_error("server_error", gettext("That failed on our side; try again."))

    async def rate_check(self) -> float:
        """Count a frame against the sender's limits: the seconds to wait, 0 when within them."""
        return 0.0

    async def still_allowed(self) -> bool:
        """Whether the socket's user may still send frames (checked after the rate limit, so a
        flood costs no database reads); a socket that may not is told and closed here."""
        return True

    def client_ip(self) -> str:
        client = self.scope.get("client") or ("unknown", 0)
        return str(client[0])

    async def relay(self, event: dict[str, Any]) -> None:
        await self.send_json(event)


def _conversation_id(frame: dict[str, Any]) -> int:
    value = frame.get("conversation_id")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise FrameError(gettext("conversation_id must be a conversation's id (a whole number)."),
                         code="invalid_conversation_id")
    return value


def _after(frame: dict[str, Any]) -> int:
    value = frame.get("after", 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQUENCE:
        raise FrameError(gettext("after must be a sequence number (a whole number of at least 0)."),
                         code="invalid_sequence")
    return value


async def _messages_send(consumer: JsonConsumer, *, conversation_id: int, after: int, notes: bool) -> None:
    """The messages after a sequence number, as the group would have pushed them."""
    messages = await database_sync_to_async(selectors.messages_after)(
        conversation_id=conversation_id, after=after, notes=notes)
    for message in messages:
        await consumer.send_json({"type": "chat.message", **chat_push.message_payload(
            message, author_name=services.author_name(message.author_user) if message.author_user else "")})


def _chat_summary(conversation: Any) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {"id": conversation.pk, "status": conversation.status,
            "last_sequence": conversation.last_message_sequence,
            "agent_read_sequence": conversation.agent_read_sequence,
            "agent": services.author_name(conversation.assignee) if conversation.assignee_id else ""}


# --- the agent workspace and the supervisors' live view ---------------------------------------------


@database_sync_to_async
def _desk_user(user: Any) -> tuple[bool, bool]:
    """(is an agent, is a supervisor)"""
    return access.is_agent(user), access.is_supervisor(user)


@database_sync_to_async
def _assigned_ids(user: Any) -> set[int]:
    return set(WorkItem.objects.filter(agent__user_id=user.pk, state=ItemState.ASSIGNED)
               .values_list("conversation_id", flat=True))


class AgentConsumer(JsonConsumer):
    """An agent's (or supervisor's) live feed. Frames it may send:

    - `{"type": "watch", "conversation_id": N}` / `unwatch`: follow a conversation they may see.
    - `{"type": "sync", "conversation_id": N, "after": <sequence>}`: what they missed, notes included.
    - `{"type": "typing", "conversation_id": N}`, `{"type": "read", "conversation_id": N, "sequence": N}`.
    - `{"type": "heartbeat"}`: keeps the agent's presence (routing sets silent agents offline).
    """

    socket_kind = "desk"
    frame_types = frozenset({ClientFrame.WATCH, ClientFrame.UNWATCH, ClientFrame.SYNC, ClientFrame.TYPING,
                             ClientFrame.READ, ClientFrame.HEARTBEAT})

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=NOT_SIGNED_IN)
            return
        self.user = user
        self.is_agent, self.is_supervisor = await _desk_user(user)
        if not (self.is_agent or self.is_supervisor):
            await self.close(code=NOT_AN_AGENT)
            return
        self.groups_joined: set[str] = set()
        self.assigned: set[int] = set()
        self.watching: set[int] = set()
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        if self.session_key:  # logging out closes this socket (conversations.apps)
            await self._join(chat_push.session_group(self.session_key))
        await self._join(push.agent_group(user.pk))
        if self.is_supervisor:
            await self._join(chat_push.SUPERVISORS)
        await self._assigned_refresh()
        await self.accept()

    async def still_allowed(self) -> bool:
        # Every frame asks whether the login still stands: a socket outliving its logout (or
        # taken over) goes no further, even if the close pushed at logout was lost.
        if not await database_sync_to_async(session_is_current)(session_key=self.session_key, user=self.user):
            await self.session_ended({})
            return False
        return True

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.send_error("signed_out", gettext("You signed out; sign in again to continue."))
        await self.close(code=NOT_SIGNED_IN)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def rate_check(self) -> float:
        # Heartbeats and reads are database writes: one agent's socket must not be a write flood.
        return await ratelimit.hit_async({f"agent:{self.user.pk}": ratelimit.rate("CHAT_RATE_AGENT")})

    async def _join(self, group: str) -> None:
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.add(group)

    async def _leave(self, group: str) -> None:
        if group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.groups_joined.discard(group)

    async def _conversation_groups(self, conversation_ids: set[int], *, join: bool) -> None:
        for conversation_id in conversation_ids:
            for group in (chat_push.conversation_group(conversation_id),
                          chat_push.conversation_staff_group(conversation_id)):
                await (self._join(group) if join else self._leave(group))

    async def _assigned_refresh(self) -> None:
        """Follow exactly the conversations assigned to the agent now (and those watched)."""
        assigned = await _assigned_ids(self.user) if self.is_agent else set()
        await self._conversation_groups(assigned - self.assigned, join=True)
        await self._conversation_groups(self.assigned - assigned - self.watching, join=False)
        self.assigned = assigned

    async def frame_watch(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame)
        await database_sync_to_async(access.access_conversation)(user=self.user, conversation_id=conversation_id)
        self.watching.add(conversation_id)
        await self._conversation_groups({conversation_id}, join=True)
        await self.send_json({"type": "watching", "conversation_id": conversation_id})

    async def frame_unwatch(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame)
        self.watching.discard(conversation_id)
        if conversation_id not in self.assigned:
            await self._conversation_groups({conversation_id}, join=False)

    async def frame_sync(self, frame: dict[str, Any]) -> None:
        conversation_id, after = _conversation_id(frame), _after(frame)
        conversation = await database_sync_to_async(access.access_conversation)(
            user=self.user, conversation_id=conversation_id)
        await _messages_send(self, conversation_id=conversation_id, after=after, notes=True)
        await self.send_json({"type": "synced", "conversation": _chat_summary(conversation)})

    async def frame_typing(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame)
        if chat_push.conversation_group(conversation_id) not in self.groups_joined:
            raise FrameError("Watch the conversation first.", code="not_watching")
        await chat_push.typing_send(self.channel_layer, conversation_id=conversation_id, side="agent",
                                    name=services.author_name(self.user))

    async def frame_read(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(services.agent_read_mark)(
            conversation_id=_conversation_id(frame), user=self.user, sequence=frame.get("sequence"))

    async def frame_heartbeat(self, frame: dict[str, Any]) -> None:
        if self.is_agent:
            await database_sync_to_async(routing.heartbeat)(user=self.user)

    # Routing's events: relayed, and the followed conversations follow the assignment.
    async def routing_item(self, event: dict[str, Any]) -> None:
        await self._assigned_refresh()
        await self.relay(event)

    async def routing_presence(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_typing(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_read(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_status(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_agent(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_notice(self, event: dict[str, Any]) -> None:
        """Notices are for the contact (conversations.waiting); the desk sees routing's state."""

    async def chat_delivery(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_call(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def supervisor_snapshot(self, event: dict[str, Any]) -> None:
        await self.relay(event)
