"""Writes to conversations and messages.

Over 500 lines, knowingly: issue 11 splits this module along its use cases into a package
re-exporting these names; issue 10 changed behaviour here and left the move to that one change."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import push, widget
from conversations.access import access_conversation, is_supervisor
from conversations.models import (
    CLIENT_ID_PATTERN,
    Channel,
    ContactReason,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
    Priority,
    RoutingHistoryWatermark,
)
from conversations.selectors import author_name, visitor_contact
from routing import services as routing
from routing.access import access_work_item, access_work_item_to_decline
from routing.models import HELD_STATES, AgentProfile, ItemState, Queue, WorkItem, WorkItemEvent
from supportdesk import advisory_locks
from supportdesk.actors import user_actor
from supportdesk.db import loop_connection
from supportdesk.errors import Conflict, DomainError, NotFound
from timeline import events
from timeline.models import Contact, ContactKind
from timeline.services import contact_upsert


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
    route_later: bool = False,
    client_id: Any = "",
) -> Conversation:
    """Open a conversation and hand it to routing: at once, or (`route_later`) by the
    `conversation_route` task after commit, once its first message can tell its language.
    Opened again for the same contact with the same `client_id` (a retry after a timeout), the
    first one comes back, marked `replayed`; the same id for another channel is a conflict."""
    if channel not in Channel.values:
        raise DomainError(f"Unknown channel {channel!r}; use one of {', '.join(Channel.values)}.")
    client_id = _check_client_id(client_id)
    if client_id and (earlier := _opened_before(contact=contact, client_id=client_id, channel=channel)):
        return earlier
    try:
        return _conversation_create(
            contact=contact, channel=channel, subject=subject, language=language,
            contact_reason=contact_reason, priority=priority, opened_by=opened_by,
            route_later=route_later, client_id=client_id)
    except IntegrityError:
        # The same open sent twice at the same moment: the other one committed first.
        earlier = _opened_before(contact=contact, client_id=client_id, channel=channel) if client_id else None
        if earlier is None:
            raise
        return earlier


def _opened_before(*, contact: Contact, client_id: str, channel: str) -> Conversation | None:
    earlier = Conversation.objects.filter(contact=contact, client_id=client_id).first()
    if earlier is None:
        return None
    if earlier.channel != channel:
        raise Conflict(_("client_id %(id)s opened another conversation already.") % {"id": client_id},
                       code="client_id_reused")
    earlier.replayed = True
    return earlier


def _conversation_create(*, contact: Contact, channel: str, subject: str, language: str, contact_reason: str,
                         priority: int, opened_by: AbstractBaseUser | None, route_later: bool,
                         client_id: str) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.create(
            contact=contact,
            channel=channel,
            subject=subject,
            language=language or contact.preferred_language,
            contact_reason=contact_reason,
            priority=priority,
            client_id=client_id,
        )
        events.conversation_opened_event(
            contact_id=contact.pk, conversation_id=conversation.pk, channel=channel,
            subject=subject, occurred_at=conversation.created_at, actor=_actor(opened_by),
        )
        if route_later:
            from conversations import tasks  # tasks import these services

            transaction.on_commit(lambda: tasks.conversation_route_enqueue(conversation.pk))
        else:
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
    conversation.routed_at = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(routed_at=conversation.routed_at)


def conversation_route(*, conversation_id: int) -> bool:
    """Route a conversation that waits for it (the task's use case; idempotent).

    A chat without a language takes the one its first customer message is written in,
    when the detector is sure enough; else the desk's default. False when there was
    nothing to do (routed already, or no longer open).
    """
    from conversations.language import language_detect  # numpy and the model: only where routing runs

    with transaction.atomic():
        conversation = (Conversation.objects.select_for_update().select_related("contact")
                        .filter(pk=conversation_id, routed_at__isnull=True,
                                status=ConversationStatus.OPEN).first())
        if conversation is None:
            return False
        if not conversation.language:
            first = (Message.objects.filter(conversation_id=conversation.pk,
                                            direction=MessageDirection.INBOUND)
                     .order_by("sequence").values_list("body", flat=True).first())
            conversation.language, _confidence = language_detect(
                first or "", default=settings.CHAT_DEFAULT_LANGUAGE)
            Conversation.objects.filter(pk=conversation.pk).update(language=conversation.language)
        _route(conversation)
    return True


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
    client_id: str = "",
) -> Message:
    """Append a message with the conversation's next sequence number, and push it after commit.

    The counter is bumped with one UPDATE ... RETURNING, which holds the conversation's
    row lock until commit, so concurrent senders get consecutive, unique numbers.

    With a `client_id`, sending the same message again (after a timeout, a dropped
    connection) stores and pushes nothing: the first one comes back, marked `replayed`.
    """
    if direction not in MessageDirection.values:
        raise DomainError(
            f"Unknown direction {direction!r}; use one of {', '.join(MessageDirection.values)}."
        )
    body = _check_body(body)  # every path: the widget, the desk, the API, integrations
    if direction != MessageDirection.INBOUND and author is None:
        raise DomainError("Replies and notes need an author.", code="author_required")
    client_id = _check_client_id(client_id)
    sender = {"conversation_id": conversation.pk, "direction": direction, "author": author,
              "client_id": client_id, "body": body}
    if client_id and (earlier := _sent_before(**sender)) is not None:
        return earlier
    now = timezone.now()
    try:
        with transaction.atomic():
            sequence = _next_sequence(conversation_id=conversation.pk, now=now)
            message = Message.objects.create(
                conversation_id=conversation.pk,
                sequence=sequence,
                direction=direction,
                author_user=author,
                body=body,
                channel_metadata=channel_metadata or {},
                client_id=client_id,
            )
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
        push.status_changed(conversation_id=conversation.pk, status=status)
    return conversation


# --- the chat widget -------------------------------------------------------------------------


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
            raise widget.TokenInvalid("The chat session's contact no longer exists; start again.")
        return session
    return widget.Session(visitor=uuid.uuid4().hex)


def _visitor_contact(session: widget.Session, *, create: bool) -> Contact | None:
    if session.contact_id or not create:
        return visitor_contact(session)
    return contact_upsert(kind=ContactKind.CUSTOMER, external_id=session.visitor_external_id,
                          fields={}, occurred_at=timezone.now(), actor="widget")


def chat_current(*, contact_id: int) -> Conversation | None:
    """The contact's chat that is still going (open or pending), if any."""
    return (Conversation.objects.filter(contact_id=contact_id, channel=Channel.CHAT,
                                        status__in=(ConversationStatus.OPEN, ConversationStatus.PENDING))
            .order_by("-created_at").first())


def visitor_chat(session: widget.Session) -> Conversation | None:
    contact = _visitor_contact(session, create=False)
    return chat_current(contact_id=contact.pk) if contact is not None else None


CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


def _check_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise DomainError("A message needs some text.", code="empty_body")
    if len(body) > settings.CHAT_MESSAGE_MAX_CHARS:
        raise DomainError(f"A message may have at most {settings.CHAT_MESSAGE_MAX_CHARS} characters.",
                          code="too_long")
    return body


def _check_client_id(client_id: Any) -> str:
    if client_id and (not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id)):
        raise DomainError("client_id must be 1-64 letters, digits or _.:-", code="invalid_client_id")
    return client_id or ""


def visitor_message_send(*, session: widget.Session, body: Any, client_id: Any = "",
                         conversation_id: int | None = None) -> Message:
    """A visitor writes in the widget. The first message (or one after the last chat was
    resolved) opens a chat, routed once its language is known. Sending again with the same
    `client_id` (after a dropped connection) stores nothing and returns the first message.

    `conversation_id` is the chat the caller's previous message went to (the socket keeps
    it): then the message is stored with one statement, when that chat is still going.
    """
    body, client_id = _check_body(body), _check_client_id(client_id)
    if conversation_id is not None:
        message = _inbound_append(session=session, conversation_id=conversation_id,
                                  body=body, client_id=client_id)
        if message is not None:
            return message
    with transaction.atomic():
        contact = _visitor_contact(session, create=True)
        if contact is None:
            raise widget.TokenInvalid("The chat session's contact no longer exists; start again.")
        conversation = chat_current(contact_id=contact.pk)
        if conversation is None:
            # One chat at a time per contact, even when two tabs send their first message at once.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                               [advisory_locks.CHAT_OPEN_PER_CONTACT, advisory_locks.pair_id(contact.pk)])
            conversation = chat_current(contact_id=contact.pk) or conversation_open(
                contact=contact, channel=Channel.CHAT, route_later=True)
        return message_create(conversation=conversation, direction=MessageDirection.INBOUND,
                              body=body, client_id=client_id)


class _NotAppended(Exception):
    pass


def _inbound_statement(*, session: widget.Session, conversation_id: int, body: str, client_id: str,
                       now: datetime) -> tuple[str, list[Any]]:
    """Number and store a customer message in one statement, if the chat is still the
    contact's and still going and the client id is new; it returns (id, sequence), or no row.
    The caller rolls back on no row, so the numbering never leaves a gap."""
    quote = connection.ops.quote_name
    conversations, messages = quote(Conversation._meta.db_table), quote(Message._meta.db_table)
    if session.contact_id is not None:
        contact_sql, contact_params = "%s", [session.contact_id]
    else:  # an anonymous visitor's contact, by the external id their session names
        contact_sql = f"(SELECT id FROM {quote(Contact._meta.db_table)} WHERE kind = %s AND external_id = %s)"
        contact_params = [ContactKind.CUSTOMER, session.visitor_external_id]
    return (
        f"WITH numbered AS (UPDATE {conversations} SET last_message_sequence = "
        "last_message_sequence + 1, last_message_at = %s, updated_at = %s "
        f"WHERE id = %s AND contact_id = {contact_sql} AND channel = %s AND status IN (%s, %s) "
        "RETURNING id, last_message_sequence) "
        f"INSERT INTO {messages} (conversation_id, sequence, direction, body, channel_metadata, "
        "client_id, created_at) SELECT id, last_message_sequence, %s, %s, '{}'::jsonb, %s, %s "
        "FROM numbered ON CONFLICT (conversation_id, client_id) WHERE client_id <> '' AND direction = 'in' "
        "DO NOTHING "
        "RETURNING id, sequence",
        [now, now, conversation_id, *contact_params, Channel.CHAT, ConversationStatus.OPEN,
         ConversationStatus.PENDING, MessageDirection.INBOUND, body, client_id, now],
    )


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
    sql, params = _inbound_statement(session=session, conversation_id=conversation_id, body=body,
                                     client_id=client_id, now=now)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            if row is None:
                raise _NotAppended  # roll the numbering back with it
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
    body, client_id = _check_body(body), _check_client_id(client_id)
    if conversation_id is not None:
        now = timezone.now()
        sql, params = _inbound_statement(session=session, conversation_id=conversation_id, body=body,
                                         client_id=client_id, now=now)
        row = None
        async with loop_connection() as db, db.transaction():
            row = await (await db.execute(sql, params)).fetchone()
            if row is None:
                raise psycopg.Rollback  # roll the numbering back with it
        if row is not None:
            message = _inbound_message(row, conversation_id=conversation_id, body=body, client_id=client_id,
                                       now=now)
            await push.message_created_now(message)  # committed: it may leave
            return message
    return await database_sync_to_async(visitor_message_send)(
        session=session, body=body, client_id=client_id, conversation_id=None)


def visitor_email_set(*, session: widget.Session, email: Any) -> Contact:
    """An anonymous visitor leaves an email to be answered on when no agent is there."""
    if not isinstance(email, str):
        raise DomainError("Give an email address.", code="invalid_email")
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(f"{email[:80]!r} is not an email address.", code="invalid_email") from None
    with transaction.atomic():
        contact = _visitor_contact(session, create=True)
        if contact.email and not session.visitor:
            raise Conflict("This contact's email comes from the site they are signed in to.",
                           code="email_known")
        Contact.objects.filter(pk=contact.pk).update(email=email, updated_at=timezone.now())
        contact.email = email
    return contact


def _read_mark(*, conversation_id: int, field: str, sequence: Any, side: str,
               contact_id: int | None = None) -> int | None:
    """Move a read mark forward; the new mark, or None when it did not move."""
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 <= sequence < 2**31:
        raise DomainError("sequence must be a whole number of at least 0.", code="invalid_sequence")
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


def visitor_read_mark(*, session: widget.Session, conversation_id: int, sequence: Any) -> int | None:
    contact = _visitor_contact(session, create=False)
    if contact is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    return _read_mark(conversation_id=conversation_id, field="contact_read_sequence",
                      sequence=sequence, side="contact", contact_id=contact.pk)


# --- the agent workspace ----------------------------------------------------------------------


def agent_reply(*, conversation_id: int, user: Any, body: Any, client_id: Any = "") -> Message:
    """A reply to the contact; sent again with the same `client_id`, the first one (see `message_create`)."""
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    body = _check_body(body)
    with transaction.atomic():
        message = message_create(conversation=conversation, direction=MessageDirection.OUTBOUND,
                                 body=body, author=user, client_id=client_id)
        if message.replayed:
            return message
        if conversation.assignee_id != user.pk:
            Conversation.objects.filter(pk=conversation.pk).update(assignee=user)
            _assigned_record(conversation_id=conversation.pk, contact_id=conversation.contact_id,
                             agent=user, by=user)
        # Answering means having read what came before.
        _read_mark(conversation_id=conversation.pk, field="agent_read_sequence",
                   sequence=message.sequence, side="agent")
    return message


def note_add(*, conversation_id: int, user: Any, body: Any, client_id: Any = "") -> Message:
    """An internal note: the desk sees it, the contact never does. Idempotent by `client_id`."""
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    body = _check_body(body)
    with transaction.atomic():
        message = message_create(conversation=conversation, direction=MessageDirection.NOTE,
                                 body=body, author=user, client_id=client_id)
        if message.replayed:
            return message
        events.conversation_note_event(
            contact_id=conversation.contact_id, conversation_id=conversation.pk,
            author=author_name(user), body=body, occurred_at=message.created_at, actor=_actor(user),
        )
    return message


def agent_read_mark(*, conversation_id: int, user: Any, sequence: Any) -> int | None:
    access_conversation(user=user, conversation_id=conversation_id)
    return _read_mark(conversation_id=conversation_id, field="agent_read_sequence",
                      sequence=sequence, side="agent")


def offer_accept(*, item_id: int, user: Any) -> Conversation:
    """The agent takes the conversation offered to them; the contact learns who answers.
    Accepting again what they hold already (a retry after a timeout) opens it, changing nothing."""
    held = (WorkItem.objects.filter(pk=item_id, agent__user_id=user.pk, state=ItemState.ASSIGNED)
            .values_list("conversation_id", flat=True).first())
    if held is not None:
        return access_conversation(user=user, conversation_id=held)
    access_work_item(user=user, item_id=item_id)  # someone else's offer is as unknown as none
    refused = None
    with transaction.atomic():
        try:
            item = routing.offer_accept(item_id=item_id, user=user)
        except routing.OfferExpired as expired:
            refused = expired  # raised once this block has committed the offer to the next agent
        else:
            Conversation.objects.filter(pk=item.conversation_id).update(assignee=user)
            _assigned_record(conversation_id=item.conversation_id, agent=user, by=user)
            push.assignment_changed(conversation_id=item.conversation_id, agent_name=author_name(user))
    if refused is not None:
        raise refused
    return access_conversation(user=user, conversation_id=item.conversation_id)


def offer_decline(*, item_id: int, user: Any, reason: str = "") -> WorkItem:
    """The agent passes on an offer: it goes to the next eligible agent, never back to them."""
    access_work_item_to_decline(user=user, item_id=item_id)
    return routing.offer_decline(item_id=item_id, user=user, reason=reason)


def conversation_transfer(*, conversation_id: int, user: Any, queue_key: str | None = None,
                          agent_user_id: int | None = None, agent_id: int | None = None) -> WorkItem:
    """Pass a conversation on, to a queue (routed afresh) or to an agent with room (named by
    their user id, as the desk does, or by their agent profile's id, as the API does). Sent
    again (a retry after a timeout), it changes nothing: see `_transferred_already`."""
    target_user_id = agent_user_id if agent_id is None else (
        AgentProfile.objects.filter(pk=agent_id).values_list("user_id", flat=True).first())
    done = _transferred_already(conversation_id=conversation_id, user=user, queue_key=queue_key,
                                agent_user_id=target_user_id)
    if done is not None:
        return done
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    item = WorkItem.objects.filter(conversation_id=conversation_id,
                                   state__in=(ItemState.WAITING, *HELD_STATES)).first()
    if item is None:
        raise Conflict("The conversation is not with routing (resolved?); nothing to transfer.",
                       code="not_routed")
    if agent_user_id is not None:
        agent_id = AgentProfile.objects.filter(user_id=agent_user_id).values_list("pk", flat=True).first()
        if agent_id is None:
            raise NotFound(f"No agent {agent_user_id}.")
    with transaction.atomic():
        item = routing.work_item_transfer(item_id=item.pk, user=user, queue_key=queue_key,
                                          agent_id=agent_id, is_supervisor=is_supervisor(user))
        new_assignee = item.agent.user if item.state == ItemState.ASSIGNED and item.agent_id else None
        Conversation.objects.filter(pk=conversation_id).update(assignee=new_assignee)
        events.conversation_transferred_event(
            contact_id=conversation.contact_id, conversation_id=conversation_id,
            to_queue=queue_key or "", to_agent=author_name(new_assignee) if new_assignee else "",
            occurred_at=timezone.now(), actor=_actor(user),
        )
        if new_assignee is not None:
            _assigned_record(conversation_id=conversation_id, contact_id=conversation.contact_id,
                             agent=new_assignee, by=user)
            push.assignment_changed(conversation_id=conversation_id, agent_name=author_name(new_assignee))
    return item


def _transferred_already(*, conversation_id: int, user: Any, queue_key: str | None,
                         agent_user_id: int | None) -> WorkItem | None:
    """The conversation's work item if it is where this transfer sends it already (waiting or
    offered in that queue, not to this user; or assigned to that agent), provided the user sent
    it there themselves (theirs is its last transfer) or may see it; else None.

    So a transfer sent again answers as the first did, though the agent lost sight of the
    conversation with the first one, while work that came back to them may be passed on anew."""
    item = (WorkItem.objects.select_related("queue", "agent")
            .filter(conversation_id=conversation_id, state__in=(ItemState.WAITING, *HELD_STATES)).first())
    if item is None:
        return None
    holder = item.agent.user_id if item.agent is not None else None
    if queue_key is not None:
        there = item.queue.key == queue_key and item.state != ItemState.ASSIGNED and holder != user.pk
    else:
        there = item.state == ItemState.ASSIGNED and holder == agent_user_id
    if not there:
        return None
    # Routing records who moved the item with the same actor string the timeline uses.
    last = (WorkItemEvent.objects.filter(item_id=item.pk, kind="transferred")
            .order_by("-at", "-pk").values_list("detail", flat=True).first())
    if not (last and last.get("by") == user_actor(user)):
        access_conversation(user=user, conversation_id=conversation_id)  # not theirs: not found
    return item


def conversation_resolve(*, conversation_id: int, user: Any, contact_reason: str) -> Conversation:
    """Done: with why the contact got in touch (one of the supervisors' contact reasons).
    Resolving again for the same reason (a retry after a timeout) changes nothing."""
    conversation = access_conversation(user=user, conversation_id=conversation_id)
    if conversation.status == ConversationStatus.RESOLVED and conversation.contact_reason == contact_reason:
        return conversation
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    if not ContactReason.objects.filter(key=contact_reason, is_active=True).exists():
        raise DomainError(f"Unknown contact reason {contact_reason!r}.", code="invalid_contact_reason")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(contact_reason=contact_reason)
        conversation.contact_reason = contact_reason
        return conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED,
                                       changed_by=user)




# --- the contact's timeline: assignments, and routing's own history copied over ---------------


def _assigned_record(*, conversation_id: int, agent: Any, by: Any, contact_id: int | None = None) -> None:
    """Record on the contact's timeline who now has the conversation (in the caller's transaction)."""
    if contact_id is None:
        contact_id = Conversation.objects.filter(pk=conversation_id).values_list("contact_id", flat=True).get()
    events.conversation_assigned_event(
        contact_id=contact_id, conversation_id=conversation_id, agent=author_name(agent),
        occurred_at=timezone.now(), actor=_actor(by),
    )


ROUTING_HISTORY = "routing_history"
# Ids are handed out before commit, so a routing event can become visible after one with a
# larger id. Ids the copier has passed but not seen are kept as gaps and looked for again on
# each run, for longer than any routing transaction lasts; most are ids of rolled-back
# transactions, which never appear.
GAP_KEEP = timedelta(minutes=10)
GAPS_MAX = 5000


def _routing_history_rows(*, after_id: int, gap_ids: list[int], limit: int) -> list[tuple]:
    """Routing's history after `after_id` (in id order, up to `limit`) and any of `gap_ids`,
    with what the timeline shows: conversation, contact, queue key and agent name."""
    quote = connection.ops.quote_name
    user_table = AgentProfile._meta.get_field("user").related_model._meta.db_table
    select = f"""
        SELECT e.id, e.kind, e.at, e.detail, i.conversation_id, c.contact_id, q.key,
               coalesce(nullif(u.first_name, ''), u.username)
          FROM {quote(WorkItemEvent._meta.db_table)} e
          JOIN {quote(WorkItem._meta.db_table)} i ON i.id = e.item_id
          LEFT JOIN {quote(Conversation._meta.db_table)} c ON c.id = i.conversation_id
          LEFT JOIN {quote(Queue._meta.db_table)} q ON q.id = e.queue_id
          LEFT JOIN {quote(AgentProfile._meta.db_table)} a ON a.id = e.agent_id
          LEFT JOIN {quote(user_table)} u ON u.id = a.user_id
    """
    with connection.cursor() as cursor:
        cursor.execute(f"{select} WHERE e.id > %s ORDER BY e.id LIMIT %s", [after_id, limit])
        rows = cursor.fetchall()
        if gap_ids:
            cursor.execute(f"{select} WHERE e.id = ANY(%s)", [gap_ids])
            rows = cursor.fetchall() + rows
    return rows


def routing_history_copy(*, batch_size: int = 1000) -> int:
    """Copy routing's new history (queued, assigned, accepted, transferred, breached,
    completed) to the timelines of the conversations' contacts; the number of events copied.

    Idempotent: the watermark (the last routing event id looked at, and the gaps below it)
    moves in the same transaction as the copies, under a row lock, so two runs never copy a
    row twice. Routing never learns about it: its hot path writes only its own history.
    """
    RoutingHistoryWatermark.objects.bulk_create([RoutingHistoryWatermark(key=ROUTING_HISTORY)],
                                                ignore_conflicts=True)
    now = timezone.now()
    with transaction.atomic():
        watermark = RoutingHistoryWatermark.objects.select_for_update().get(key=ROUTING_HISTORY)
        gaps = {int(gap_id): seen for gap_id, seen in watermark.gaps}
        rows = _routing_history_rows(after_id=watermark.last_event_id, gap_ids=sorted(gaps),
                                     limit=batch_size)
        copied = 0
        with events.buffered():
            for event_id, kind, at, detail, conversation_id, contact_id, queue_key, agent in rows:
                gaps.pop(event_id, None)
                if kind not in WorkItemEvent.CONTACT_HISTORY_KINDS or contact_id is None:
                    continue
                # Raw SQL hands jsonb over as text (Django decodes it only for model fields).
                detail = json.loads(detail) if isinstance(detail, str) else detail
                payload = {**(detail or {}), "queue": queue_key or "", "agent": agent or ""}
                events.routing_event(
                    contact_id=contact_id, conversation_id=conversation_id, kind=kind,
                    detail={name: value for name, value in payload.items() if value not in ("", None)},
                    occurred_at=at,
                )
                copied += 1
        new_ids = sorted(row[0] for row in rows if row[0] > watermark.last_event_id)
        seen = set(new_ids)
        # The first run starts at the first event it finds: nothing before it was passed over.
        previous = watermark.last_event_id or (new_ids[0] - 1 if new_ids else 0)
        for event_id in new_ids:
            gaps.update({gap_id: now.isoformat()
                         for gap_id in range(max(previous + 1, event_id - GAPS_MAX), event_id)
                         if gap_id not in seen})
            previous = event_id
        expired = (now - GAP_KEEP).isoformat()
        kept = sorted((gap_id, seen_at) for gap_id, seen_at in gaps.items() if seen_at > expired)
        watermark.gaps = [list(gap) for gap in kept[-GAPS_MAX:]]
        watermark.last_event_id = previous
        if rows or kept != sorted(gaps.items()):
            watermark.save(update_fields=["last_event_id", "gaps", "updated_at"])
    return copied
