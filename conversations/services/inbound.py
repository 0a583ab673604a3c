"""Inbound messages from providers (email, messaging, voice): the services `integrations/` calls.

A provider module finds (or creates) the contact from the channel's address, decides which
thread a message belongs to where the channel has threads (email), and calls these; this
module owns what a conversation does with it: append it (idempotent on the provider's id of
the message), reopen a resolved conversation the contact answers, or open a new one and
have it routed on its channel once its first message tells its language.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from conversations.models import Channel, Conversation, ConversationStatus, Message, MessageDirection
from conversations.services.conversations import conversation_open, conversation_status_set
from conversations.services.messages import message_create
from routing.models import Queue, WhileOpen, WorkItem
from timeline.models import Contact

ACTIVE = (ConversationStatus.OPEN, ConversationStatus.PENDING)
SHORTENED = "\n\n[…]"


def provider_client_id(channel: str, provider_id: str) -> str:
    """A message's client id from the provider's id of it (any length, any characters)."""
    return f"{channel[:8]}:{hashlib.sha256(provider_id.encode()).hexdigest()[:48]}"


def display_body(text: str) -> str:
    """What the conversation shows: the text, shortened to the messages' limit (the provider
    module keeps the whole original), never empty."""
    text = text.replace("\x00", "").strip() or _("(no text)")
    limit = settings.CHAT_MESSAGE_MAX_CHARS
    return text if len(text) <= limit else text[:limit - len(SHORTENED)].rstrip() + SHORTENED


def contact_active_conversation(*, contact: Contact, channel: str) -> Conversation | None:
    """The contact's newest conversation on this channel that is still open or pending."""
    return (Conversation.objects.filter(contact=contact, channel=channel, status__in=ACTIVE)
            .order_by("-created_at", "-pk").first())


def _while_open_policy(conversation: Conversation) -> str:
    queue_id = (WorkItem.objects.filter(conversation_id=conversation.pk).order_by("-pk")
                .values_list("queue_id", flat=True).first())
    if queue_id is None:
        return WhileOpen.JOIN
    return Queue.objects.filter(pk=queue_id).values_list("new_email_while_open", flat=True).first() \
        or WhileOpen.JOIN


def inbound_conversation(*, contact: Contact, channel: str, subject: str = "", language: str = "",
                         join_open: bool = True) -> Conversation:
    """The conversation a new inbound thread lands in: the contact's open one on this channel
    when its queue joins (and `join_open`), else a new one (linked to the open one, if any),
    routed once its first message is stored."""
    # One new case at a time per contact: parallel drains wait here for each other.
    Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk", flat=True).first()
    active = contact_active_conversation(contact=contact, channel=channel)
    # A queue may link rather than join a new email thread; other channels have no threads.
    if active is not None and join_open and (
            channel != Channel.EMAIL or _while_open_policy(active) == WhileOpen.JOIN):
        return active
    conversation = conversation_open(contact=contact, channel=channel, subject=subject[:255],
                                     language=language, route_later=True)
    if active is not None:
        Conversation.objects.filter(pk=conversation.pk).update(linked_conversation=active)
        conversation.linked_conversation = active
    return conversation


def inbound_message_receive(*, conversation: Conversation, body: str, provider_id: str,
                            metadata: dict[str, Any] | None = None) -> Message:
    """Append the contact's message (once per provider id: a provider's retry returns the first
    one, marked `replayed`), reopening the conversation if it was resolved or closed."""
    with transaction.atomic():
        message = message_create(conversation=conversation, direction=MessageDirection.INBOUND,
                                 body=display_body(body), channel_metadata=metadata or {},
                                 client_id=provider_client_id(conversation.channel, provider_id))
        if not message.replayed and conversation.status not in ACTIVE:
            conversation_status_set(conversation=conversation, status=ConversationStatus.OPEN)
    return message
