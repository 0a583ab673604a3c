"""Inbound messages from providers (email, messaging, voice): the services `integrations/` calls.

A provider module finds (or creates) the contact from the channel's address, decides which
thread a message belongs to where the channel has threads (email), and calls these; this
module owns what a conversation does with it: append it (idempotent on the provider's id of
the message), reopen a resolved conversation the contact answers, or open a new one and
have it routed on its channel once its first message tells its language.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import push
from conversations.models import (
    MESSAGE_STREAM,
    Channel,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
)
from conversations.services.common import check_body
from conversations.services.conversations import conversation_open, conversation_status_set
from conversations.services.messages import message_create
from routing.models import WhileOpen, WorkItem
from supportdesk import outbox
from supportdesk.errors import Conflict, NotFound
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


def _while_open_policies(conversation_ids: Iterable[int]) -> dict[int, str]:
    """What the queue of each conversation's latest work item does with a new email thread
    while the conversation is open (join when it has none or the queue says nothing)."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    rows = (WorkItem.objects.filter(conversation_id__in=ids).order_by("conversation_id", "-pk")
            .distinct("conversation_id").values_list("conversation_id", "queue__new_email_while_open"))
    return {conversation_id: policy or WhileOpen.JOIN for conversation_id, policy in rows}


class InboundCases:
    """Where new inbound threads of several contacts land, decided one after the other as
    `inbound_conversation` decides one, with what that reads fetched once for all of them (a
    provider's batch). The caller holds the contacts' rows locked (`timeline.locks`), so no
    other writer opens a case for them meanwhile; a case opened here is the contact's open one
    for the threads after it."""

    def __init__(self, *, contact_ids: Iterable[int], channel: str) -> None:
        self.channel = channel
        self.active: dict[int, Conversation] = {
            conversation.contact_id: conversation for conversation in
            Conversation.objects.filter(contact_id__in=sorted(set(contact_ids)), channel=channel,
                                        status__in=ACTIVE)
            .order_by("contact_id", "-created_at", "-pk").distinct("contact_id")}
        # A queue may link rather than join a new email thread; other channels have no threads.
        self.policies = (_while_open_policies(c.pk for c in self.active.values())
                         if channel == Channel.EMAIL else {})

    def place(self, *, contact: Contact, subject: str = "", language: str = "",
              join_open: bool = True) -> Conversation:
        active = self.active.get(contact.pk)
        if active is not None and join_open and self.policies.get(active.pk, WhileOpen.JOIN) == WhileOpen.JOIN:
            return active
        conversation = conversation_open(contact=contact, channel=self.channel, subject=subject[:255],
                                         language=language, route_later=True)
        if active is not None:
            Conversation.objects.filter(pk=conversation.pk).update(linked_conversation=active)
            conversation.linked_conversation = active
        # The contact's newest open case now; routed after commit, so until then new threads join it.
        self.active[contact.pk] = conversation
        return conversation


def inbound_conversation(*, contact: Contact, channel: str, subject: str = "", language: str = "",
                         join_open: bool = True) -> Conversation:
    """The conversation a new inbound thread lands in: the contact's open one on this channel
    when its queue joins (and `join_open`), else a new one (linked to the open one, if any),
    routed once its first message is stored."""
    # One new case at a time per contact: parallel drains wait here for each other.
    Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk", flat=True).first()
    return InboundCases(contact_ids=[contact.pk], channel=channel).place(
        contact=contact, subject=subject, language=language, join_open=join_open)


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


@dataclass(frozen=True)
class InboundItem:
    """One message of a provider's batch, for `inbound_messages_receive`."""

    conversation: Conversation
    body: str
    provider_id: str
    metadata: dict[str, Any] = field(default_factory=dict)


def inbound_messages_receive(*, items: Sequence[InboundItem]) -> list[Message]:
    """`inbound_message_receive` for a provider's batch, in a few statements whatever its size:
    the messages already stored (a retry) looked up at once, each conversation's numbers taken
    with one UPDATE for all, the new messages and their outbox entries in one INSERT. The
    messages come back in the items' order (a replay marked `replayed`); the conversations
    they reopen are reopened. The caller holds the conversations' contacts locked
    (`timeline.locks`), so the conversations are numbered by one batch at a time."""
    if not items:
        return []
    prepared = [(item, provider_client_id(item.conversation.channel, item.provider_id),
                 check_body(display_body(item.body))) for item in items]
    earlier = _received_before({(item.conversation.pk, client_id) for item, client_id, _body in prepared})
    conversations: dict[int, list[Conversation]] = {}
    fresh: list[tuple[int, Message]] = []  # (position, message) of the messages stored now
    found: dict[int, Message] = {}  # position -> a message stored before (or earlier in the batch)
    counts: dict[int, int] = {}
    for position, (item, client_id, body) in enumerate(prepared):
        conversation = item.conversation
        conversations.setdefault(conversation.pk, []).append(conversation)
        before = earlier.get((conversation.pk, client_id))
        if before is not None:
            if before.body != body:
                raise Conflict(_("client_id %(client_id)s was used for another message already; give each "
                                 "new message its own.") % {"client_id": client_id}, code="client_id_reused")
            found[position] = before
            continue
        counts[conversation.pk] = counts.get(conversation.pk, 0) + 1
        message = Message(conversation_id=conversation.pk, direction=MessageDirection.INBOUND, body=body,
                          channel_metadata=item.metadata or {}, client_id=client_id)
        earlier[(conversation.pk, client_id)] = message  # the same message twice in the batch: stored once
        fresh.append((position, message))
    now = timezone.now()
    with transaction.atomic():
        numbered = _sequences_take(counts, now=now)
        next_sequence = {pk: last - counts[pk] + 1 for pk, (last, _status) in numbered.items()}
        for _position, message in fresh:
            message.sequence = next_sequence[message.conversation_id]
            next_sequence[message.conversation_id] += 1
        # With their outbox entries, in the same statement, for the consumers that want them.
        outbox.outbox_bulk_create([message for _position, message in fresh], stream=MESSAGE_STREAM)
        for _position, message in fresh:
            push.message_created(message)
        for pk, (last, status) in numbered.items():
            for conversation in conversations[pk]:
                conversation.last_message_sequence, conversation.last_message_at = last, now
                conversation.status = status
            if status not in ACTIVE:  # the contact answered a resolved or closed conversation
                conversation_status_set(conversation=conversations[pk][0], status=ConversationStatus.OPEN)
                for conversation in conversations[pk][1:]:
                    conversation.status = ConversationStatus.OPEN
    stored = dict(fresh)
    result = []
    for position in range(len(prepared)):
        message = stored.get(position)
        if message is None:  # stored before, or earlier in the batch: that one, marked a replay
            message = copy.copy(found[position])
            message.replayed = True
        result.append(message)
    return result


def _received_before(pairs: set[tuple[int, str]]) -> dict[tuple[int, str], Message]:
    if not pairs:
        return {}
    rows = Message.objects.filter(direction=MessageDirection.INBOUND,
                                  conversation_id__in={pk for pk, _client_id in pairs},
                                  client_id__in={client_id for _pk, client_id in pairs})
    return {(row.conversation_id, row.client_id): row for row in rows
            if (row.conversation_id, row.client_id) in pairs}


def _sequences_take(counts: dict[int, int], *, now: datetime) -> dict[int, tuple[int, str]]:
    """Move each conversation's message counter on by its count, in one statement: the
    conversation's last number now and its status, by id (the row lock held until commit, as
    `message_create`'s counter)."""
    if not counts:
        return {}
    table = connection.ops.quote_name(Conversation._meta.db_table)
    ids = sorted(counts)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET last_message_sequence = c.last_message_sequence + v.n, "
            "last_message_at = %s, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::integer[]) AS v(id, n) WHERE c.id = v.id "
            "RETURNING c.id, c.last_message_sequence, c.status",
            [now, now, ids, [counts[pk] for pk in ids]],
        )
        numbered = {pk: (last, status) for pk, last, status in cursor.fetchall()}
    if missing := set(ids) - numbered.keys():
        raise NotFound(f"Conversation {min(missing)} does not exist.")
    return numbered
