"""Messages: numbering and storing them, the agent's replies and notes, read marks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import channels, push
from conversations.access import access_conversation
from conversations.models import MESSAGE_STREAM, Channel, Conversation, DeliveryState, Message, MessageDirection
from conversations.selectors import author_name
from conversations.services.common import assigned_record, check_body, check_client_id, timeline_actor
from conversations.suggestions.recording import inserted_check
from supportdesk import outbox
from supportdesk.errors import Conflict, DomainError, NotFound
from timeline import events


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
        raise NotFound(_("Conversation %(id)s does not exist.") % {"id": conversation_id})
    return row[0]


def message_create(
    *,
    conversation: Conversation,
    direction: str,
    body: str,
    author: AbstractBaseUser | None = None,
    channel_metadata: dict[str, Any] | None = None,
    client_id: str = "",
    system_note: bool = False,
    inserted: list[str] | None = None,
) -> Message:
    """Append a message with the conversation's next sequence number, and push it after commit.
    `system_note`: a note the desk writes itself, with no author ("System" in the thread).
    `inserted`: the checked labels of what an agent's reply inserted (recording.inserted_check).

    The counter is bumped with one UPDATE ... RETURNING, which holds the conversation's
    row lock until commit, so concurrent senders get consecutive, unique numbers.

    With a `client_id`, sending the same message again (after a timeout, a dropped
    connection) stores and pushes nothing: the first one comes back, marked `replayed`.
    """
    if direction not in MessageDirection.values:
        raise DomainError(
            f"Unknown direction {direction!r}; use one of {', '.join(MessageDirection.values)}."
        )
    body = check_body(body)  # every path: the widget, the desk, the API, integrations
    if direction != MessageDirection.INBOUND and author is None and not (
            system_note and direction == MessageDirection.NOTE):
        raise DomainError("Replies and notes need an author.", code="author_required")
    client_id = check_client_id(client_id)
    sender = {"conversation_id": conversation.pk, "direction": direction, "author": author,
              "client_id": client_id, "body": body}
    if client_id and (earlier := _sent_before(**sender)) is not None:
        return earlier
    now = timezone.now()
    try:
        with transaction.atomic():
            sequence = _next_sequence(conversation_id=conversation.pk, now=now)
            message = Message(
                conversation_id=conversation.pk,
                sequence=sequence,
                direction=direction,
                author_user=author,
                body=body,
                channel_metadata=channel_metadata or {},
                client_id=client_id,
                inserted=inserted or [],
                # A reply on a provider's channel leaves through its transport (conversations.channels).
                delivery_state=(DeliveryState.QUEUED if direction == MessageDirection.OUTBOUND
                                and channels.delivers(conversation.channel) else ""),
            )
            # With its outbox entries, in the same statement, for the consumers that want it.
            outbox.outbox_bulk_create([message], stream=MESSAGE_STREAM)
            if direction == MessageDirection.OUTBOUND:
                Conversation.objects.filter(pk=conversation.pk, first_response_at__isnull=True).update(
                    first_response_at=now
                )
            push.message_created(message, author_name=author_name(author) if author else "")
    except IntegrityError:
        # The same message sent twice at the same moment: the other one committed first (our
        # number went back with the savepoint, so the numbering has no gap).
        earlier = _sent_before(**sender) if client_id else None
        if earlier is None:
            raise
        return earlier
    conversation.last_message_sequence = sequence
    conversation.last_message_at = now
    return message


def _sent_before(*, conversation_id: int, direction: str, author: AbstractBaseUser | None, client_id: str,
                 body: str) -> Message | None:
    """The message this sender already stored with this client id (the constraints' spaces: the
    contact's side shares one, each agent has their own), or None. The same id for a different
    message is a client's mistake, refused rather than guessed at."""
    earlier = Message.objects.filter(conversation_id=conversation_id, client_id=client_id)
    if direction == MessageDirection.INBOUND:
        earlier = earlier.filter(direction=MessageDirection.INBOUND)
    else:
        earlier = earlier.exclude(direction=MessageDirection.INBOUND).filter(author_user=author)
    message = earlier.select_related("author_user").first()
    if message is None:
        return None
    if (message.direction, message.body) != (direction, body):
        raise Conflict(_("client_id %(client_id)s was used for another message already; give each new "
                         "message its own.") % {"client_id": client_id}, code="client_id_reused")
    message.replayed = True
    return message


def read_mark(*, conversation_id: int, field: str, sequence: Any, side: str,
              contact_id: int | None = None) -> int | None:
    """Move a read mark forward; the new mark, or None when it did not move."""
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 <= sequence < 2**31:
        raise DomainError(_("sequence must be a whole number of at least 0."), code="invalid_sequence")
    table = connection.ops.quote_name(Conversation._meta.db_table)
    column = connection.ops.quote_name(field)
    extra, params = ("AND contact_id = %s", [contact_id]) if contact_id is not None else ("", [])
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Marks only move forward, and never past the last message.
            cursor.execute(
                f"UPDATE {table} SET {column} = LEAST(GREATEST({column}, %s), last_message_sequence) "
                f"WHERE id = %s {extra} AND {column} < LEAST(%s, last_message_sequence) "
                f"RETURNING {column}",
                [sequence, conversation_id, *params, sequence],
            )
            row = cursor.fetchone()
        if row is not None:
            push.read_marked(conversation_id=conversation_id, side=side, sequence=row[0])
    return row[0] if row else None


def agent_reply(*, conversation_id: int, user: Any, body: Any, client_id: Any = "",
                inserted: Any = None) -> Message:
    """A reply to the contact; sent again with the same `client_id`, the first one (see `message_create`).
    `inserted`: the macros and articles the agent put in (labels), for the suggested replies to learn."""
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    body = check_body(body)
    inserted = inserted_check(inserted)
    if conversation.channel == Channel.VOICE:
        # Nothing would carry it to the caller: the call is the conversation.
        raise DomainError(_("A call has no written replies: add an internal note instead."),
                          code="no_written_replies")
    with transaction.atomic():
        message = message_create(conversation=conversation, direction=MessageDirection.OUTBOUND,
                                 body=body, author=user, client_id=client_id, inserted=inserted)
        if message.replayed:
            return message
        if conversation.assignee_id != user.pk:
            Conversation.objects.filter(pk=conversation.pk).update(assignee=user)
            assigned_record(conversation_id=conversation.pk, contact_id=conversation.contact_id,
                            agent=user, by=user)
        # Answering means having read what came before.
        read_mark(conversation_id=conversation.pk, field="agent_read_sequence",
                  sequence=message.sequence, side="agent")
    return message


def note_add(*, conversation_id: int, user: Any, body: Any, client_id: Any = "") -> Message:
    """An internal note: the desk sees it, the contact never does. Idempotent by `client_id`."""
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    body = check_body(body)
    with transaction.atomic():
        message = message_create(conversation=conversation, direction=MessageDirection.NOTE,
                                 body=body, author=user, client_id=client_id)
        if message.replayed:
            return message
        events.conversation_note_event(
            contact_id=conversation.contact_id, conversation_id=conversation.pk,
            author=author_name(user), body=body, occurred_at=message.created_at, actor=timeline_actor(user),
        )
    return message


def agent_read_mark(*, conversation_id: int, user: Any, sequence: Any) -> int | None:
    access_conversation(user=user, conversation_id=conversation_id)
    return read_mark(conversation_id=conversation_id, field="agent_read_sequence",
                      sequence=sequence, side="agent")
