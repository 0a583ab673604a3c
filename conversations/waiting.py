"""Telling a customer whose chat went back to the queue that they are still waiting.

When the agent a chat was offered to declines it and nobody else takes it, routing puts it
back to wait (and, on its side, offers it again later). The visitor would see nothing at all;
here they get a short notice in their widget, in the chat's language, pushed to the
conversation's group as a `chat.notice` frame (not stored as a message: it is not part of
the conversation, so it neither counts as the desk's first answer nor shows in the thread).

`waiting_notice_send` is the one way to say it; `offer_decline` is the desk's decline with
it. Whatever else learns that a chat went back to wait (routing's history outbox, for offers
that time out or API declines) calls `waiting_notice_send` too.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext

from conversations import services
from conversations.models import Channel, Conversation
from conversations.push import notice_sent
from routing.models import ItemState, WorkItem


def waiting_text(language: str) -> str:
    with translation.override(language or None):
        return gettext("You are in the queue: the next free agent will answer you. Thank you for waiting.")


def waiting_notice_send(*, conversation_id: int) -> bool:
    """Push the notice if the conversation is a live chat whose work is waiting for an agent
    (after commit); whether it was sent."""
    waiting = WorkItem.objects.filter(conversation_id=conversation_id, state=ItemState.WAITING,
                                      channel=Channel.CHAT).exists()
    if not waiting:
        return False
    conversation = (Conversation.objects.filter(pk=conversation_id).select_related("contact")
                    .only("language", "last_message_sequence", "contact__preferred_language").first())
    if conversation is None:
        return False
    language = conversation.language or conversation.contact.preferred_language
    notice_sent(conversation_id=conversation_id, notice="waiting", text=waiting_text(language),
                after_sequence=conversation.last_message_sequence)
    return True


def offer_decline(*, item_id: int, user: Any, reason: str = "") -> WorkItem:
    """The desk's decline (`services.offer_decline`), then the customer's notice if the chat
    now waits for nobody in particular."""
    item = services.offer_decline(item_id=item_id, user=user, reason=reason)
    waiting_notice_send(conversation_id=item.conversation_id)
    return item
