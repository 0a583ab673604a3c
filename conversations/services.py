"""Writes to conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from conversations.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
    Priority,
)
from routing import services as routing
from supportdesk.actors import user_actor
from supportdesk.errors import DomainError, NotFound
from timeline import events
from timeline.models import Contact


def _actor(user: AbstractBaseUser | None) -> str:
    return user_actor(user, default="contact")


def conversation_open(
    *,
    contact: Contact,
    channel: str,
    subject: str = "",
    language: str = "",
    contact_reason: str = "",
    priority: int = Priority.NORMAL,
    opened_by: AbstractBaseUser | None = None,
) -> Conversation:
    if channel not in Channel.values:
        raise DomainError(f"Unknown channel {channel!r}; use one of {', '.join(Channel.values)}.")
    with transaction.atomic():
        conversation = Conversation.objects.create(
            contact=contact,
            channel=channel,
            subject=subject,
            language=language or contact.preferred_language,
            contact_reason=contact_reason,
            priority=priority,
        )
        events.conversation_opened_event(
            contact_id=contact.pk, conversation_id=conversation.pk, channel=channel,
            subject=subject, occurred_at=conversation.created_at, actor=_actor(opened_by),
        )
        _route(conversation)
    return conversation


def routing_attributes(conversation: Conversation) -> dict[str, Any]:
    """What routing matches on, from the conversation and its contact."""
    contact = conversation.contact
    attributes: dict[str, Any] = {
        "language": conversation.language or contact.preferred_language,
        "contact_kind": contact.kind,
        "lifetime_order_value": str(contact.lifetime_order_value),
        "priority": conversation.priority,
    }
    optional = {"tier": contact.tier, "country": contact.country,
                "contact_reason": conversation.contact_reason}
    attributes.update({name: value for name, value in optional.items() if value})
    return attributes


def _route(conversation: Conversation) -> None:
    """Ask routing for an agent (a reopened conversation goes back to its last one if free)."""
    routing.work_item_enqueue(conversation_id=conversation.pk, channel=conversation.channel,
                              attributes=routing_attributes(conversation), priority=conversation.priority)


def _next_sequence(*, conversation_id: int, now: datetime) -> int:
    table = connection.ops.quote_name(Conversation._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_message_sequence = last_message_sequence + 1, "
            "last_message_at = %s, updated_at = %s WHERE id = %s RETURNING last_message_sequence",
            [now, now, conversation_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    return row[0]


def message_create(
    *,
    conversation: Conversation,
    direction: str,
    body: str,
    author: AbstractBaseUser | None = None,
    channel_metadata: dict[str, Any] | None = None,
) -> Message:
    """Append a message with the conversation's next sequence number.

    The counter is bumped with one UPDATE ... RETURNING, which holds the conversation's
    row lock until commit, so concurrent senders get consecutive, unique numbers.
    """
    if direction not in MessageDirection.values:
        raise DomainError(
            f"Unknown direction {direction!r}; use one of {', '.join(MessageDirection.values)}."
        )
    if not body or not body.strip():
        raise DomainError("A message needs a body.", code="empty_body")
    if direction != MessageDirection.INBOUND and author is None:
        raise DomainError("Replies and notes need an author.", code="author_required")
    now = timezone.now()
    with transaction.atomic():
        sequence = _next_sequence(conversation_id=conversation.pk, now=now)
        message = Message.objects.create(
            conversation_id=conversation.pk,
            sequence=sequence,
            direction=direction,
            author_user=author,
            body=body,
            channel_metadata=channel_metadata or {},
        )
        if direction == MessageDirection.OUTBOUND:
            Conversation.objects.filter(pk=conversation.pk, first_response_at__isnull=True).update(
                first_response_at=now
            )
    conversation.last_message_sequence = sequence
    conversation.last_message_at = now
    return message


def conversation_status_set(
    *, conversation: Conversation, status: str, changed_by: AbstractBaseUser | None = None
) -> Conversation:
    if status not in ConversationStatus.values:
        raise DomainError(
            f"Unknown status {status!r}; use one of {', '.join(ConversationStatus.values)}."
        )
    if conversation.status == status:
        return conversation
    was_closed = conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)
    with transaction.atomic():
        conversation.status = status
        if status == ConversationStatus.RESOLVED:
            conversation.resolved_at = timezone.now()
        elif status in (ConversationStatus.OPEN, ConversationStatus.PENDING):
            conversation.resolved_at = None  # reopened: the old resolution no longer stands
        conversation.save(update_fields=["status", "resolved_at", "updated_at"])
        events.conversation_status_changed_event(
            contact_id=conversation.contact_id, conversation_id=conversation.pk, status=status,
            occurred_at=conversation.updated_at, actor=_actor(changed_by),
        )
        if status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED):
            routing.work_item_complete(conversation_id=conversation.pk, user=changed_by)
        elif was_closed:
            _route(conversation)
    return conversation


