"""Work the desk starts itself: tasks (work for an agent that is not a contact's message, a
service audit, a workflow's follow-up: a conversation on channel "task" routed to a named
queue like any work) and proactive chat messages (a workflow writing to a contact first)."""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import push
from conversations.models import Channel, Conversation, ConversationStatus, Message, MessageDirection
from conversations.services.common import check_body
from conversations.services.conversations import routing_attributes
from routing import services as routing
from supportdesk.errors import DomainError, NotFound
from timeline import events
from timeline.models import Contact


def _task_client_id(idempotency_key: str) -> str:
    # Any key the caller likes, as a client id (at most 64 of letters, digits and _.:-).
    return "task:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def task_open(*, contact_id: int, queue_key: str, subject: str, body: str, idempotency_key: str,
              actor: str) -> Conversation:
    """Open a task for the contact in the queue `queue_key` and route it there.

    Idempotent on `idempotency_key`: called again with it (a retried workflow step), the
    task opened the first time comes back, marked `replayed`. `body` is kept as the task's
    first message, an internal note; `actor` is who opened it on the timeline
    ("workflow:<id>", "user:<id>", ...).
    """
    if not isinstance(idempotency_key, str) or not idempotency_key:
        raise DomainError(_("A task needs an idempotency key."), code="idempotency_key_required")
    body = check_body(body)
    client_id = _task_client_id(idempotency_key)
    earlier = Conversation.objects.filter(contact_id=contact_id, client_id=client_id).first()
    if earlier is not None:
        earlier.replayed = True
        return earlier
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(_("No contact %(id)s.") % {"id": contact_id})
    try:
        with transaction.atomic():
            now = timezone.now()
            conversation = Conversation.objects.create(
                contact=contact, channel=Channel.TASK, subject=subject[:255],
                language=contact.preferred_language, client_id=client_id,
                last_message_sequence=1, last_message_at=now,
            )
            Message.objects.create(conversation=conversation, sequence=1,
                                   direction=MessageDirection.NOTE, body=body)
            events.conversation_opened_event(
                contact_id=contact.pk, conversation_id=conversation.pk, channel=Channel.TASK,
                subject=conversation.subject, occurred_at=conversation.created_at, actor=actor,
            )
            routing.work_item_enqueue(
                conversation_id=conversation.pk, channel=Channel.TASK,
                attributes=routing_attributes(conversation), queue_key=queue_key,
            )
            conversation.routed_at = timezone.now()
            Conversation.objects.filter(pk=conversation.pk).update(routed_at=conversation.routed_at)
    except IntegrityError:
        # The same task opened twice at the same moment: the other one committed first.
        earlier = Conversation.objects.filter(contact_id=contact_id, client_id=client_id).first()
        if earlier is None:
            raise
        earlier.replayed = True
        return earlier
    return conversation



def proactive_message_send(*, contact_id: int, body: str, idempotency_key: str, actor: str) -> Message:
    """Write to the contact first, in chat: into their chat that is still going, else a new
    chat left pending (an agent gets it when the contact answers). Idempotent on
    `idempotency_key`: sent again, the first message comes back, marked `replayed`.
    The message is the desk's own ("system": no agent wrote it)."""
    from conversations.services.messages import _next_sequence  # noqa: PLC0415 (one numbering for all)
    from conversations.services.visitors import chat_current  # noqa: PLC0415

    body = check_body(body)
    client_id = _task_client_id(idempotency_key).replace("task:", "pro:")
    earlier = Message.objects.filter(conversation__contact_id=contact_id, client_id=client_id,
                                     direction=MessageDirection.OUTBOUND).first()
    if earlier is not None:
        earlier.replayed = True
        return earlier
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(_("No contact %(id)s.") % {"id": contact_id})
    with transaction.atomic():
        conversation = chat_current(contact_id=contact_id)
        now = timezone.now()
        if conversation is None:
            conversation = Conversation.objects.create(
                contact=contact, channel=Channel.CHAT, status=ConversationStatus.PENDING,
                language=contact.preferred_language, client_id=client_id)
            events.conversation_opened_event(
                contact_id=contact.pk, conversation_id=conversation.pk, channel=Channel.CHAT,
                subject="", occurred_at=conversation.created_at, actor=actor)
        sequence = _next_sequence(conversation_id=conversation.pk, now=now)
        message = Message.objects.create(conversation=conversation, sequence=sequence,
                                         direction=MessageDirection.OUTBOUND, body=body, client_id=client_id,
                                         channel_metadata={"proactive": True, "actor": actor})
        push.message_created(message)
    return message
