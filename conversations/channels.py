"""The channel transport interface: how a reply on email, messaging or voice leaves the desk.

`conversations/` defines it and drives it; each provider in `integrations/` implements
`send` for its channel and registers it from its app's `ready()` (nothing here imports a
provider). A reply is stored first, in the agent's transaction, with its delivery state
"queued" and an outbox entry for the transports' consumer; the consumer drains those one
message a transaction and calls the channel's transport:

- sent: the state becomes "sent" and the provider's reference is kept on the message;
- `TransportRetry` (the provider is unreachable or busy): the entry stays, is counted and
  tried again by the next drain, and after `OUTBOX_MAX_ATTEMPTS` it is parked (the admin's
  *Outbox entries* put it back); the message stays "queued" until then;
- `TransportRefused` (an address that cannot work, a refusal the provider says is final):
  the state becomes "failed" with the provider's reason.

Providers report later states (delivered, read, failed with a reason) with
`delivery_state_set`, keyed on the provider's reference. A send must be idempotent on the
key it is given (`message_idempotency_key`): a drain that dies after the provider took the
message sends it again with the same key (the email's Message-ID, a provider's idempotency
header), so the recipient sees one message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from conversations import push
from conversations.models import (
    MESSAGE_STREAM,
    Conversation,
    DeliveryReport,
    DeliveryState,
    Message,
    MessageDirection,
)
from supportdesk import outbox

log = logging.getLogger(__name__)

CONSUMER = "conversations.transports"


# A later report never takes a message back: read is not undone by a late "delivered".
# Failed is final, except that a provider may say "failed" after "sent" (a bounce).
_RANK = {DeliveryState.QUEUED: 0, DeliveryState.SENT: 1, DeliveryState.DELIVERED: 2, DeliveryState.READ: 3,
         DeliveryState.FAILED: 4}


class TransportRetry(Exception):
    """The provider did not take the message now; trying again later may work."""


class TransportRefused(Exception):
    """The provider will never take this message (its reason is the exception's text)."""


@dataclass(frozen=True)
class Sent:
    reference: str  # the provider's id of the message (an email's Message-ID, a messaging id)
    metadata: dict[str, Any] = field(default_factory=dict)  # kept in the message's channel_metadata


@dataclass(frozen=True)
class Transport:
    channel: str
    # send(message, conversation, idempotency_key) -> Sent; raises TransportRetry or TransportRefused.
    send: Callable[[Message, Conversation, str], Sent]


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    content: bytes


_transports: dict[str, Transport] = {}
# channel -> reader(message, index) -> Attachment | None: the provider keeps what came in whole
# (an email's raw MIME); the desk lists the attachments in the message's channel_metadata
# ["attachments"] ({"name", "type", "size"} each, in order) and asks the provider for one.
_attachment_readers: dict[str, Callable[[Message, int], Attachment | None]] = {}


def transport_register(*, channel: str, send: Callable[[Message, Conversation, str], Sent]) -> None:
    """A provider takes the outbound messages of `channel` (a second registration replaces the first)."""
    _transports[channel] = Transport(channel=channel, send=send)


# channel -> hint(conversation) -> str: what the agent should know before replying on this
# channel (WhatsApp: inside or outside the 24-hour window, so text or a template), or "".
_composer_hints: dict[str, Callable[[Conversation], str]] = {}


def composer_hint_register(*, channel: str, hint: Callable[[Conversation], str]) -> None:
    _composer_hints[channel] = hint


def composer_hint(conversation: Conversation) -> str:
    hint = _composer_hints.get(conversation.channel)
    return hint(conversation) if hint is not None else ""


def attachment_reader_register(*, channel: str, read: Callable[[Message, int], Attachment | None]) -> None:
    _attachment_readers[channel] = read


def attachment_read(message: Message, index: int) -> Attachment | None:
    """The message's `index`-th attachment (0-based), or None when it has no such one."""
    listed = (message.channel_metadata or {}).get("attachments")
    read = _attachment_readers.get(message.conversation.channel)
    if read is None or not isinstance(listed, list) or not 0 <= index < len(listed):
        return None
    return read(message, index)


def transport_for(channel: str) -> Transport | None:
    return _transports.get(channel)


def delivers(channel: str) -> bool:
    """Whether replies on this channel leave through a transport (not: the chat's own socket)."""
    return channel in _transports


def message_idempotency_key(message: Message) -> str:
    return f"conversations.message:{message.pk}"


def _wants(message: Any) -> bool:
    # message_create queues a reply whose channel delivers (other producers write none).
    return getattr(message, "direction", None) == MessageDirection.OUTBOUND and \
        getattr(message, "delivery_state", "") == DeliveryState.QUEUED


def _kick() -> None:
    from conversations import tasks  # tasks import this module

    tasks.outbound_deliver_enqueue()


def _parked(message_id: int, error: str) -> None:
    """The provider did not take the reply after OUTBOX_MAX_ATTEMPTS tries: it stays queued (a
    supervisor's retry from the admin's Outbox entries sends it), and the agent is told why."""
    message = Message.objects.filter(pk=message_id, delivery_state=DeliveryState.QUEUED).first()
    if message is not None:
        _state_write(message, DeliveryState.QUEUED, detail=gettext(
            "Not sent yet: the provider did not take it after %(attempts)s tries (%(error)s). A supervisor "
            "can send it again from the admin's Outbox entries.") % {
                "attempts": settings.OUTBOX_MAX_ATTEMPTS, "error": error.split("\n", 1)[0][:300]})


def transports_consumer_register() -> None:
    outbox.consumer_register(name=CONSUMER, stream=MESSAGE_STREAM, handle=outbound_deliver, wants=_wants,
                             kick=_kick, on_park=_parked)


def outbound_deliver(message_ids: list[int]) -> None:
    """The consumer: send each queued message through its channel's transport (in the drain's
    transaction; a retry raises, so the entry stays and is counted)."""
    messages = Message.objects.filter(pk__in=message_ids).select_related("conversation__contact").order_by("pk")
    for message in messages:
        if message.delivery_state != DeliveryState.QUEUED:
            continue  # handled before (a report came first) or taken back
        transport = transport_for(message.conversation.channel)
        if transport is None:
            _state_write(message, DeliveryState.FAILED,
                         detail=gettext("No provider sends this channel's messages."))
            continue
        try:
            sent = transport.send(message, message.conversation, message_idempotency_key(message))
        except TransportRefused as refusal:
            _state_write(message, DeliveryState.FAILED, detail=str(refusal))
            continue
        except TransportRetry:
            raise
        _state_write(message, DeliveryState.SENT, detail="", reference=sent.reference,
                     metadata={**message.channel_metadata, **sent.metadata})
        # Reports the provider sent before this transaction recorded the reference (a report
        # kept after this check is applied by the next drain).
        for report in DeliveryReport.objects.filter(channel=message.conversation.channel,
                                                    reference=message.delivery_reference).order_by("pk"):
            _advance(message, report.state, report.detail)
            report.delete()


def outbound_drain(*, batches: int = 50) -> int:
    """Drain the transports' consumer, one message a transaction (a retried batch would send
    the others again), then apply the providers' reports that outran their sends; the number
    sent or refused."""
    done = outbox.outbox_drain_singly(consumer=CONSUMER, batches=batches)
    if DeliveryReport.objects.exists():
        reports_pending_apply()
    return done


def _state_write(message: Message, state: str, *, detail: str, reference: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
    fields: dict[str, Any] = {"delivery_state": state, "delivery_detail": detail[:1000],
                              "delivery_updated_at": timezone.now()}
    if reference is not None:
        fields["delivery_reference"] = reference[:255]
    if metadata is not None:
        fields["channel_metadata"] = metadata
    Message.objects.filter(pk=message.pk).update(**fields)
    for name, value in fields.items():
        setattr(message, name, value)
    push.delivery_changed(message)


def _advance(message: Message, state: str, detail: str) -> None:
    """Move a locked message to `state` unless it is there or past it (failed is final)."""
    current = message.delivery_state or DeliveryState.QUEUED
    if current == DeliveryState.FAILED or _RANK[DeliveryState(state)] <= _RANK[DeliveryState(current)]:
        return
    _state_write(message, state, detail=detail)


def delivery_state_set(*, channel: str, reference: str, state: str, detail: str = "") -> Message | None:
    """A provider's report about a message it took (by its reference): the message, or None
    when no message has that reference yet. Reports out of order are kept in order: a message
    is never taken back from read to delivered, and failed is final. A report that outran the
    commit of its send is kept and applied once the send is recorded (`reports_pending_apply`);
    one for a message the desk never sent is dropped after PENDING_REPORT_MAX_AGE."""
    if state not in DeliveryState.values:
        raise ValueError(f"Unknown delivery state {state!r}.")
    with transaction.atomic():
        message = (Message.objects.select_for_update().select_related("conversation")
                   .filter(delivery_reference=reference, conversation__channel=channel).first())
        if message is None:
            DeliveryReport.objects.create(channel=channel, reference=reference[:255], state=state,
                                          detail=detail[:1000])
            return None
        _advance(message, state, detail)
    return message


PENDING_REPORT_MAX_AGE = timedelta(hours=1)


def reports_pending_apply() -> int:
    """Apply the kept reports whose message's send is now recorded, and drop those older than
    PENDING_REPORT_MAX_AGE (about messages the desk never sent); how many were applied."""
    applied = 0
    with transaction.atomic():
        reports = list(DeliveryReport.objects.select_for_update(skip_locked=True).order_by("pk")[:500])
        for report in reports:
            message = (Message.objects.select_for_update().select_related("conversation")
                       .filter(delivery_reference=report.reference, conversation__channel=report.channel).first())
            if message is not None:
                _advance(message, report.state, report.detail)
                applied += 1
            if message is not None or report.received_at < timezone.now() - PENDING_REPORT_MAX_AGE:
                report.delete()
    return applied
