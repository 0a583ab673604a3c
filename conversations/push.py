"""What conversations tell browsers, pushed after commit (supportdesk.push sends).

Groups, named here and nowhere else:
- `conversation.<id>`: what the contact may see (messages in and out, typing, read marks,
  status). The visitor's widget and every agent or supervisor watching it are members.
- `conversation.<id>.staff`: what only the desk sees (internal notes, assignment).
- `supervisors`: the live view's snapshots.
- `contact.<id>.visitor`: the contact's own widgets, whichever chat they show (a survey
  asked after a chat was resolved reaches them there).
- `session.<hash of the session key>`: a desk login's sockets, closed when it logs out.

Typing is not a write, so it is sent at once (`typing_send`), not after a commit.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.urls import reverse

from conversations.models import Message, MessageDirection
from supportdesk.protocol import Frame
from supportdesk.push import send_on_commit

log = logging.getLogger(__name__)

SUPERVISORS = "supervisors"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def conversation_staff_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}.staff"


def message_payload(message: Message, *, author_name: str = "") -> dict[str, Any]:
    """A message as both the widget and the workspace receive it (and resync it).

    `author` is the one name of a message's author everywhere: the contact's widget, the
    desk's pushes and templates/desk/_message.html (selectors.author_name, a first name; a
    full name would reach the visitor's socket, which must not see it)."""
    payload = {
        "conversation_id": message.conversation_id, "sequence": message.sequence,
        "direction": message.direction, "body": message.body, "author": author_name,
        "client_id": message.client_id, "created_at": message.created_at.isoformat(),
    }
    if message.delivery_state:  # replies on a provider's channel (email, messaging): never the widget's
        payload["delivery"] = delivery_payload(message)
    files = (message.channel_metadata or {}).get("attachments")
    if isinstance(files, list) and files:  # what came with an email (written by the provider only)
        payload["attachments"] = [
            {"name": str(file.get("name", "")), "size": file.get("size", 0),
             "url": reverse("desk:message_attachment", args=[message.conversation_id, message.sequence, index])}
            for index, file in enumerate(files) if isinstance(file, dict)]
    return payload


def delivery_payload(message: Message) -> dict[str, Any]:
    return {"state": message.delivery_state, "label": str(message.get_delivery_state_display()),
            "detail": message.delivery_detail}


def _message_event(message: Message, *, author_name: str = "") -> tuple[str, dict[str, Any]]:
    group = (conversation_staff_group if message.direction == MessageDirection.NOTE
             else conversation_group)(message.conversation_id)
    return group, {"type": Frame.CHAT_MESSAGE, **message_payload(message, author_name=author_name)}


def message_created(message: Message, *, author_name: str = "") -> None:
    send_on_commit(*_message_event(message, author_name=author_name))


async def message_created_now(message: Message, *, author_name: str = "") -> None:
    """For a message committed on the event loop's own connection (no on_commit there): sent
    from the caller's loop at once. A push that fails is logged, as the sender does."""
    from channels.layers import get_channel_layer

    group, event = _message_event(message, author_name=author_name)
    try:
        await get_channel_layer().group_send(group, event)
    except Exception:  # the message is stored; pages resync what they miss
        log.warning("Could not push message %s to %s", message.pk, group, exc_info=True)


def delivery_changed(message: Message) -> None:
    """Where an outbound message on a provider's channel now is (conversations.channels): for
    the desk only (the provider's reasons are not the contact's business)."""
    send_on_commit(conversation_staff_group(message.conversation_id),
                   {"type": Frame.CHAT_DELIVERY, "conversation_id": message.conversation_id,
                    "sequence": message.sequence, **delivery_payload(message)})


def call_changed(*, conversation_id: int, call_id: int, status: str) -> None:
    """A call of the conversation changed (rang, answered, held, ended...): for the desk only."""
    send_on_commit(conversation_staff_group(conversation_id),
                   {"type": Frame.CHAT_CALL, "conversation_id": conversation_id, "call_id": call_id,
                    "status": status})


def read_marked(*, conversation_id: int, side: str, sequence: int) -> None:
    """`side` read up to `sequence`: "contact" (the widget) or "agent"."""
    send_on_commit(conversation_group(conversation_id),
                   {"type": Frame.CHAT_READ, "conversation_id": conversation_id, "side": side,
                    "sequence": sequence})


def status_changed(*, conversation_id: int, status: str) -> None:
    send_on_commit(conversation_group(conversation_id),
                   {"type": Frame.CHAT_STATUS, "conversation_id": conversation_id, "status": status})


def assignment_changed(*, conversation_id: int, agent_name: str) -> None:
    """Who now answers: the widget shows the name, the desk updates its lists."""
    send_on_commit(conversation_group(conversation_id),
                   {"type": Frame.CHAT_AGENT, "conversation_id": conversation_id, "agent": agent_name})


def notice_sent(*, conversation_id: int, notice: str, text: str, after_sequence: int) -> None:
    """A short system notice for the contact's widget (`notice` names it, `text` is already
    in their language), shown after message `after_sequence`; the desk ignores it."""
    send_on_commit(conversation_group(conversation_id),
                   {"type": Frame.CHAT_NOTICE, "conversation_id": conversation_id, "notice": notice, "text": text,
                    "after_sequence": after_sequence})


def visitor_group(contact_id: int) -> str:
    return f"contact.{contact_id}.visitor"


def survey_asked(*, contact_id: int, survey: dict[str, Any]) -> None:
    """A satisfaction survey for the contact's widget (`survey`: its id, the conversation
    and the texts, already in their language; conversations.surveys says what it holds)."""
    send_on_commit(visitor_group(contact_id), {"type": Frame.CHAT_SURVEY, **survey})


def session_group(session_key: str) -> str:
    # A digest, not the key: group names travel through Redis, a session key is a credential.
    return f"session.{hashlib.sha256(session_key.encode()).hexdigest()[:40]}"


def session_ended(*, session_key: str) -> None:
    """A desk login ended (logout): its sockets close."""
    send_on_commit(session_group(session_key), {"type": "session.ended"})


def supervisor_snapshot(snapshot: dict[str, Any]) -> None:
    send_on_commit(SUPERVISORS, {"type": Frame.SUPERVISOR_SNAPSHOT, **snapshot})


async def typing_send(channel_layer: Any, *, conversation_id: int, side: str, name: str = "") -> None:
    """Someone is typing; relayed as is, nothing stored."""
    await channel_layer.group_send(conversation_group(conversation_id),
                                   {"type": Frame.CHAT_TYPING, "conversation_id": conversation_id,
                                    "side": side, "name": name})
