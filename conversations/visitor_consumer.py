"""The visitor's websocket (`/ws/chat/?token=<session token>`): it joins only its own chat's
group and relays; the frame checks, rate limits and error frames it shares with the agent's
socket are conversations.consumers'. No business logic here (STYLE #7)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.utils.translation import gettext

from conversations import push as chat_push
from conversations import selectors, services, surveys, widget
from conversations.consumers import (
    NOT_SIGNED_IN,
    RATE_LIMITED,
    FrameError,
    JsonConsumer,
    _after,
    _chat_summary,
    _conversation_id,
    _messages_send,
)
from conversations.models import Conversation, ConversationStatus
from supportdesk import languages, ratelimit
from supportdesk.protocol import ClientFrame, Frame

log = logging.getLogger(__name__)


@database_sync_to_async
def _visitor_state(session: widget.Session) -> tuple[int | None, str, dict[str, Any]]:
    """(the session's contact id, if it has a contact yet; the contact's language; the
    `ready`/`synced` frame's fields: the chat going on, whether agents are online, a survey
    waiting for an answer)."""
    contact = selectors.visitor_contact(session)
    conversation = services.chat_current(contact_id=contact.pk) if contact is not None else None
    contact_id = contact.pk if contact is not None else None
    return contact_id, contact.preferred_language if contact is not None else "", {
        "conversation": _chat_summary(conversation), "agents_online": selectors.agents_online(),
        "survey": surveys.survey_pending(contact_id=contact_id)}


def _conversation_contact(conversation_id: int) -> int | None:
    return Conversation.objects.filter(pk=conversation_id).values_list("contact_id", flat=True).first()


class VisitorConsumer(JsonConsumer):
    """A customer's chat widget. Frames it may send:

    - `{"type": "sync", "after": <sequence>}`: the messages it missed, then `synced`.
    - `{"type": "message", "body": "...", "client_id": "..."}`: answered by `ack` with the
      message's sequence number (the same one again for a repeated client_id).
    - `{"type": "typing"}`, `{"type": "read", "sequence": N}`, `{"type": "email", "email": "..."}`.
    - `{"type": "rate", "survey_id": N, "score": 1-5, "comment": "..."}`: the answer to the
      satisfaction survey the socket showed (`chat.survey`), answered by `rated`.
    - `{"type": "end", "conversation_id": N}`: "End chat" (services.chat_end), answered by `ended`.
      The chat the socket follows sees its visitor there (services.VisitorWatch).

    Besides its chat's group, the socket joins its contact's visitor group (push.visitor_group)
    once the session has a contact: surveys asked after a chat ended reach it there.

    Its error frames are in the customer's language (supportdesk.languages): the browser's
    from the handshake, then the contact's or the widget's setting once the session says them.
    """

    socket_kind = "widget"
    frame_types = frozenset({ClientFrame.SYNC, ClientFrame.MESSAGE, ClientFrame.TYPING, ClientFrame.READ,
                             ClientFrame.EMAIL, ClientFrame.RATE, ClientFrame.END})

    def handshake_language(self) -> str:
        return languages.customer_language(accept_language_header=self._accept_language())

    def _accept_language(self) -> str:
        return next((value.decode("latin-1") for name, value in self.scope.get("headers", ())
                     if name == b"accept-language"), "")

    def _language_learn(self, contact_language: str) -> None:
        """What the session knows outranks the handshake's guess, from the next frame on."""
        self.language = languages.customer_language(
            contact_language=contact_language, widget_language=self.session.language,
            accept_language_header=self._accept_language())

    async def connect(self) -> None:
        self.visitor = services.VisitorWatch()
        self.conversation_id: int | None = None
        self.contact_id: int | None = None
        # Client ids this socket was just acked for: their echo from the group is not sent back.
        self.acked: dict[str, None] = {}  # insertion-ordered: the oldest goes first when full
        wait = await ratelimit.hit_async(
            {f"connect:ip:{self.client_ip()}": ratelimit.rate("CHAT_RATE_CONNECT_IP")})
        await self.accept()  # accepted first, so the browser can read why it is closed
        if wait:
            await self.send_error("rate_limited",
                                  gettext("Too many connections from your address; wait a little."),
                                  retry_after=wait)
            await self.close(code=RATE_LIMITED)
            return
        token = (parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("token") or [""])[0]
        try:
            self.session = widget.session_decode(token)
        except widget.TokenInvalid as error:
            await self.send_error(error.code, error.message)
            await self.close(code=NOT_SIGNED_IN)
            return
        contact_id, contact_language, state = await _visitor_state(self.session)
        self._language_learn(contact_language)
        await self._join_contact(contact_id)
        if state["conversation"]:
            await self._follow(state["conversation"]["id"])
        await self.send_json({"type": "ready", **state})

    async def disconnect(self, code: int) -> None:
        await self._follow(None)
        if self.contact_id is not None:
            await self.channel_layer.group_discard(chat_push.visitor_group(self.contact_id), self.channel_name)

    async def _join_contact(self, contact_id: int | None) -> None:
        """Join the contact's visitor group once the session has a contact (it never changes)."""
        if contact_id is None or self.contact_id is not None:
            return
        self.contact_id = contact_id
        await self.channel_layer.group_add(chat_push.visitor_group(contact_id), self.channel_name)

    async def _follow(self, conversation_id: int | None) -> None:
        if conversation_id == self.conversation_id:
            return
        if self.conversation_id is not None:
            await self.channel_layer.group_discard(chat_push.conversation_group(self.conversation_id),
                                                   self.channel_name)
        if conversation_id is not None:
            await self.channel_layer.group_add(chat_push.conversation_group(conversation_id), self.channel_name)
        self.conversation_id = conversation_id
        await self.visitor.follow(conversation_id)

    async def rate_check(self) -> float:
        limits = {f"ip:{self.client_ip()}": ratelimit.rate("CHAT_RATE_IP")}
        session = getattr(self, "session", None)  # none yet when the token was refused
        if session is not None:
            limits[f"visitor:{session.contact_id or session.visitor}"] = ratelimit.rate("CHAT_RATE_VISITOR")
        return await ratelimit.hit_async(limits)

    async def frame_sync(self, frame: dict[str, Any]) -> None:
        after = _after(frame)
        contact_id, contact_language, state = await _visitor_state(self.session)
        self._language_learn(contact_language)
        await self._join_contact(contact_id)
        conversation = state["conversation"]
        await self._follow(conversation["id"] if conversation else None)
        if conversation:
            await _messages_send(self, conversation_id=conversation["id"], after=after, notes=False)
        await self.send_json({"type": "synced", **state})

    async def frame_message(self, frame: dict[str, Any]) -> None:
        message = await services.visitor_message_send_async(
            session=self.session, body=frame.get("body"), client_id=frame.get("client_id") or "",
            conversation_id=self.conversation_id)
        opened = message.conversation_id != self.conversation_id
        await self._follow(message.conversation_id)
        if message.client_id and not opened:
            if len(self.acked) >= 100:  # a resend's echo never comes; do not keep its id for ever
                del self.acked[next(iter(self.acked))]
            self.acked[message.client_id] = None
        await self.send_json({"type": "ack", "client_id": message.client_id, "sequence": message.sequence,
                              "conversation_id": message.conversation_id,
                              "created_at": message.created_at.isoformat()})
        if opened:
            # The socket joined the new chat's group after its first message was stored, so what
            # was pushed to the group before that is sent now (the widget drops what it has).
            await _messages_send(self, conversation_id=message.conversation_id, after=0, notes=False)
        if opened and self.contact_id is None:
            # An anonymous visitor's first message made their contact: after the answer, so the
            # ack waits for nothing more (a survey comes long after this).
            await self._join_contact(await database_sync_to_async(_conversation_contact)(message.conversation_id))

    async def frame_typing(self, frame: dict[str, Any]) -> None:
        if self.conversation_id is not None:
            await chat_push.typing_send(self.channel_layer, conversation_id=self.conversation_id, side="contact")

    async def frame_read(self, frame: dict[str, Any]) -> None:
        if self.conversation_id is None:
            raise FrameError(gettext("There is no chat to mark read yet."), code="no_conversation")
        await database_sync_to_async(services.visitor_read_mark)(
            session=self.session, conversation_id=self.conversation_id, sequence=frame.get("sequence"))

    async def frame_email(self, frame: dict[str, Any]) -> None:
        await database_sync_to_async(services.visitor_email_set)(session=self.session, email=frame.get("email"))
        await self.send_json({"type": "email_saved"})

    async def frame_rate(self, frame: dict[str, Any]) -> None:
        if self.contact_id is None:
            raise FrameError(gettext("There is no survey to answer."), code="no_survey")
        rated = await database_sync_to_async(surveys.survey_answer)(
            contact_id=self.contact_id, survey_id=frame.get("survey_id"), score=frame.get("score"),
            comment=frame.get("comment", ""))
        await self.send_json({"type": Frame.RATED, **rated})

    async def frame_end(self, frame: dict[str, Any]) -> None:
        conversation_id = _conversation_id(frame) if "conversation_id" in frame else self.conversation_id
        ended = await database_sync_to_async(services.visitor_chat_end)(
            session=self.session, conversation_id=conversation_id)
        if ended.conversation_id == self.conversation_id:
            await self._follow(None)  # the next message opens a new chat
        await self.send_json({"type": Frame.ENDED, "conversation_id": ended.conversation_id,
                              "text": services.chat_ended_text(ended.language)})

    async def chat_survey(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    # Events from the conversation's group: the contact's side sees the desk's typing and reads.
    async def chat_message(self, event: dict[str, Any]) -> None:
        if event.get("client_id") in self.acked:  # this socket sent it and has its ack
            del self.acked[event["client_id"]]
            return
        await self.relay(event)

    async def chat_typing(self, event: dict[str, Any]) -> None:
        if event.get("side") == "agent":
            await self.relay(event)

    async def chat_read(self, event: dict[str, Any]) -> None:
        if event.get("side") == "agent":
            await self.relay(event)

    async def chat_status(self, event: dict[str, Any]) -> None:
        await self.relay(event)
        if event.get("status") in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED):
            await self._follow(None)  # the next message opens a new chat

    async def chat_agent(self, event: dict[str, Any]) -> None:
        await self.relay(event)

    async def chat_notice(self, event: dict[str, Any]) -> None:
        await self.relay(event)

