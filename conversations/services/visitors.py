"""The chat widget's visitor: their session, their chat, their messages, email and read mark."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversations import push, widget
from conversations.models import (
    MESSAGE_STREAM,
    Channel,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
)
from conversations.selectors import visitor_contact
from conversations.services.common import check_body, check_client_id
from conversations.services.conversations import conversation_open
from conversations.services.messages import message_create, read_mark
from supportdesk import advisory_locks, outbox
from supportdesk.db import loop_connection
from supportdesk.errors import Conflict, DomainError, NotFound
from supportdesk.models import OutboxEntry
from timeline.models import Contact, ContactKind
from timeline.services import contact_upsert


def visitor_session_start(*, identity_token: str = "", session_token: str = "") -> widget.Session:
    """Who the widget speaks for. A host site's identity token wins (its contact is created
    or updated from it); else the widget's own session; else a new anonymous visitor."""
    if identity_token:
        identity = widget.identity_decode(identity_token)
        fields = {"name": identity.name, "email": identity.email,
                  "preferred_language": identity.language}
        contact = contact_upsert(kind=identity.kind, external_id=identity.external_id,
                                 fields={name: value for name, value in fields.items() if value},
                                 occurred_at=timezone.now(), actor="widget")
        return widget.Session(contact_id=contact.pk)
    if session_token:
        session = widget.session_decode(session_token)
        if session.contact_id and not Contact.objects.filter(pk=session.contact_id).exists():
            raise widget.TokenInvalid(gettext("The chat session's contact no longer exists; start again."))
        return session
    return widget.Session(visitor=uuid.uuid4().hex)


def _visitor_contact(session: widget.Session, *, create: bool) -> Contact | None:
    if session.contact_id or not create:
        return visitor_contact(session)
    return contact_upsert(kind=ContactKind.CUSTOMER, external_id=session.visitor_external_id,
                          fields={}, occurred_at=timezone.now(), actor="widget")


def chat_current(*, contact_id: int) -> Conversation | None:
    """The contact's chat that is still going (open or pending, and not ended by them: one
    they ended waits for its agent's wrap-up, and their next message opens a new one), if any."""
    return (Conversation.objects.filter(contact_id=contact_id, channel=Channel.CHAT,
                                        status__in=(ConversationStatus.OPEN, ConversationStatus.PENDING),
                                        contact_ended_at__isnull=True)
            .order_by("-created_at").first())


def chat_current_or_open(*, contact: Contact, **fields: Any) -> Conversation:
    """The contact's chat still going, else a new one with `fields` (conversation_open's), routed
    after commit. Called in a transaction: one chat at a time per contact, even when two tabs
    send their first message at once."""
    conversation = chat_current(contact_id=contact.pk)
    if conversation is not None:
        return conversation
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                       [advisory_locks.CHAT_OPEN_PER_CONTACT, advisory_locks.pair_id(contact.pk)])
    return chat_current(contact_id=contact.pk) or conversation_open(
        contact=contact, channel=Channel.CHAT, route_later=True, **fields)


def visitor_chat(session: widget.Session) -> Conversation | None:
    contact = _visitor_contact(session, create=False)
    return chat_current(contact_id=contact.pk) if contact is not None else None


def visitor_message_send(*, session: widget.Session, body: Any, client_id: Any = "",
                         conversation_id: int | None = None) -> Message:
    """A visitor writes in the widget. The first message (or one after the last chat was
    resolved) opens a chat, routed once its language is known. Sending again with the same
    `client_id` (after a dropped connection) stores nothing and returns the first message.

    `conversation_id` is the chat the caller's previous message went to (the socket keeps
    it): then the message is stored with one statement, when that chat is still going.
    """
    body, client_id = check_body(body), check_client_id(client_id)
    if conversation_id is not None:
        message = _inbound_append(session=session, conversation_id=conversation_id,
                                  body=body, client_id=client_id)
        if message is not None:
            return message
    with transaction.atomic():
        contact = _visitor_contact(session, create=True)
        if contact is None:
            raise widget.TokenInvalid(gettext("The chat session's contact no longer exists; start again."))
        conversation = chat_current_or_open(contact=contact)
        return message_create(conversation=conversation, direction=MessageDirection.INBOUND,
                              body=body, client_id=client_id)


class _NotAppended(Exception):
    pass


def _inbound_statement(*, session: widget.Session, conversation_id: int, body: str, client_id: str,
                       now: datetime, consumers: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """Number and store a customer message in one statement, if the chat is still the
    contact's and still going and the client id is new; it returns (id, sequence), or no row.
    The caller rolls back on no row, so the numbering never leaves a gap.

    `consumers`: the outbox consumers of MESSAGE_STREAM that want this message (see
    `_inbound_consumers`); their entries are written by the same statement, and only then
    is it any longer than the plain insert."""
    quote = connection.ops.quote_name
    conversations, messages = quote(Conversation._meta.db_table), quote(Message._meta.db_table)
    if session.contact_id is not None:
        contact_sql, contact_params = "%s", [session.contact_id]
    else:  # an anonymous visitor's contact, by the external id their session names
        contact_sql = f"(SELECT id FROM {quote(Contact._meta.db_table)} WHERE kind = %s AND external_id = %s)"
        contact_params = [ContactKind.CUSTOMER, session.visitor_external_id]
    numbered = (
        f"WITH numbered AS (UPDATE {conversations} SET last_message_sequence = "
        "last_message_sequence + 1, last_message_at = %s, updated_at = %s "
        f"WHERE id = %s AND contact_id = {contact_sql} AND channel = %s AND status IN (%s, %s) "
        "AND contact_ended_at IS NULL "
        "RETURNING id, last_message_sequence) "
    )
    insert = (
        f"INSERT INTO {messages} (conversation_id, sequence, direction, body, channel_metadata, "
        "client_id, created_at) SELECT id, last_message_sequence, %s, %s, '{}'::jsonb, %s, %s "
        "FROM numbered ON CONFLICT (conversation_id, client_id) WHERE client_id <> '' AND direction = 'in' "
        "DO NOTHING "
        "RETURNING id, sequence"
    )
    params = [now, now, conversation_id, *contact_params, Channel.CHAT, ConversationStatus.OPEN,
              ConversationStatus.PENDING, MessageDirection.INBOUND, body, client_id, now]
    if not consumers:
        return numbered + insert, params
    return (
        f"{numbered}, inserted AS ({insert}), entries AS ("
        f"INSERT INTO {quote(OutboxEntry._meta.db_table)} (stream, consumer, ref_id) "
        "SELECT %s, wanted.consumer, inserted.id FROM inserted CROSS JOIN unnest(%s::text[]) AS wanted(consumer)) "
        "SELECT id, sequence FROM inserted",
        [*params, MESSAGE_STREAM, list(consumers)],
    )


def _inbound_proto(*, conversation_id: int, body: str, client_id: str) -> Message:
    """The message as the outbox consumers' `wants` sees it (not saved)."""
    return Message(conversation_id=conversation_id, direction=MessageDirection.INBOUND, body=body,
                   channel_metadata={}, client_id=client_id)


def _inbound_message(row: tuple[int, int], *, conversation_id: int, body: str, client_id: str,
                     now: datetime) -> Message:
    return Message(pk=row[0], conversation_id=conversation_id, sequence=row[1],
                   direction=MessageDirection.INBOUND, body=body, channel_metadata={},
                   client_id=client_id, created_at=now)


def _inbound_append(*, session: widget.Session, conversation_id: int, body: str,
                    client_id: str) -> Message | None:
    """The chat's hot path from synchronous code; None when it does not apply (see
    `_inbound_statement`) and nothing was written."""
    now = timezone.now()
    consumers = outbox.outbox_wanting(_inbound_proto(conversation_id=conversation_id, body=body,
                                                     client_id=client_id), stream=MESSAGE_STREAM)
    sql, params = _inbound_statement(session=session, conversation_id=conversation_id, body=body,
                                     client_id=client_id, now=now, consumers=consumers)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            if row is None:
                raise _NotAppended  # roll the numbering back with it
            outbox.outbox_kick(consumers)
            message = _inbound_message(row, conversation_id=conversation_id, body=body, client_id=client_id,
                                       now=now)
            push.message_created(message)
    except _NotAppended:
        return None
    return message


async def visitor_message_send_async(*, session: widget.Session, body: Any, client_id: Any = "",
                                     conversation_id: int | None = None) -> Message:
    """`visitor_message_send` for the visitor's socket: a message on the chat the socket
    follows is stored on the event loop's own connection (supportdesk.db.loop_connection)
    and pushed once committed, without a thread hop; anything else (the first message,
    a resend, a chat since resolved) goes through `visitor_message_send`."""
    body, client_id = check_body(body), check_client_id(client_id)
    if conversation_id is not None:
        now = timezone.now()
        consumers = await outbox.outbox_wanting_async(
            _inbound_proto(conversation_id=conversation_id, body=body, client_id=client_id), stream=MESSAGE_STREAM)
        sql, params = _inbound_statement(session=session, conversation_id=conversation_id, body=body,
                                         client_id=client_id, now=now, consumers=consumers)
        row = None
        # Not in a pipeline, though BEGIN would leave with the statement: psycopg's pipeline
        # mode costs more CPU here, in Python and in PostgreSQL, than the round trip it saves.
        async with loop_connection() as db, db.transaction():
            row = await (await db.execute(sql, params)).fetchone()
            if row is None:
                raise psycopg.Rollback  # roll the numbering back with it
        if row is not None:
            message = _inbound_message(row, conversation_id=conversation_id, body=body, client_id=client_id,
                                       now=now)
            await push.message_created_now(message)  # committed: it may leave
            if consumers:  # drained now, not on the next beat (a thread: the kick is a round trip)
                await sync_to_async(outbox.outbox_kick)(consumers)
            return message
    return await database_sync_to_async(visitor_message_send)(
        session=session, body=body, client_id=client_id, conversation_id=None)


def visitor_email_set(*, session: widget.Session, email: Any) -> Contact:
    """An anonymous visitor leaves an email to be answered on when no agent is there."""
    if not isinstance(email, str):
        raise DomainError(gettext("Give an email address."), code="invalid_email")
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(gettext("%(email)s is not an email address.") % {"email": repr(email[:80])},
                          code="invalid_email") from None
    with transaction.atomic():
        contact = _visitor_contact(session, create=True)
        if contact.email and not session.visitor:
            raise Conflict(gettext("This contact's email comes from the site they are signed in to."),
                           code="email_known")
        Contact.objects.filter(pk=contact.pk).update(email=email, updated_at=timezone.now())
        contact.email = email
    return contact


def visitor_read_mark(*, session: widget.Session, conversation_id: int, sequence: Any) -> int | None:
    contact = _visitor_contact(session, create=False)
    if contact is None:
        raise NotFound(gettext("Conversation %(id)s does not exist.") % {"id": conversation_id})
    return read_mark(conversation_id=conversation_id, field="contact_read_sequence",
                      sequence=sequence, side="contact", contact_id=contact.pk)
