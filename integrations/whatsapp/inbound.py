"""WhatsApp inbound: the webhook's verification handshake and signature, the post stored raw
once, then (in the worker, from an outbox) each message turned into a message of the
contact's messaging conversation and each status report into the reply's delivery state.

- Verification: Meta calls GET with hub.mode=subscribe, hub.verify_token and hub.challenge; the
  desk answers the challenge when the token is WHATSAPP_VERIFY_TOKEN, else 403.
- Every post carries X-Hub-Signature-256: "sha256=" + HMAC-SHA256 of the raw body with the
  app secret (WHATSAPP_APP_SECRET); without a right one: 401, nothing stored.
- Messages: text, media (image, audio, video, document, sticker: kept by the provider's media
  id, shown with their caption) and location (shown as a place and a map link); others are
  shown as what they are. The sender's number becomes E.164 (phonenumbers), so the contact
  who calls or writes email with that number is the same one.
- Each message is stored once by its id (wamid), whatever the provider resends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.channels import delivery_state_set
from conversations.models import Channel, DeliveryState, Message, MessageDirection
from conversations.services.inbound import inbound_conversation, inbound_message_receive, provider_client_id
from integrations.models import WhatsAppDelivery
from integrations.phones import contacts_for_phones, e164
from supportdesk import outbox
from supportdesk.db import rows_update

log = logging.getLogger(__name__)

STREAM = "integrations.whatsapp"
CONSUMER = "integrations.whatsapp"
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATUSES = {"sent": DeliveryState.SENT, "delivered": DeliveryState.DELIVERED, "read": DeliveryState.READ,
            "failed": DeliveryState.FAILED}


class SignatureError(Exception):
    pass


class PayloadError(Exception):
    pass


@dataclass(frozen=True)
class Stored:
    delivery_id: int
    duplicate: bool


def verify_handshake(*, mode: str | None, token: str | None, challenge: str | None) -> str | None:
    """The challenge to echo when Meta's subscription check is ours, else None (403)."""
    expected = settings.WHATSAPP_VERIFY_TOKEN
    if mode != "subscribe" or not expected or not token or not challenge:
        return None
    return challenge if hmac.compare_digest(token.encode(), expected.encode()) else None


def signature_check(body: bytes, header: str | None) -> None:
    secret = settings.WHATSAPP_APP_SECRET
    if not secret:
        raise SignatureError(_("WhatsApp is not configured here (WHATSAPP_APP_SECRET is unset)."))
    if not header or not header.startswith("sha256="):
        raise SignatureError(_("X-Hub-Signature-256 is missing or not sha256=<hex>."))
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header.removeprefix("sha256=").strip().lower(), expected):
        raise SignatureError(_("X-Hub-Signature-256 does not match the body."))


def webhook_receive(*, body: bytes, signature: str | None) -> Stored:
    """Verify and store one post (idempotent on its body). SignatureError: 401; PayloadError: 400."""
    signature_check(body, signature)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(_("The body is not JSON: %(error)s") % {"error": error}) from error
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account" \
            or not isinstance(payload.get("entry"), list):
        raise PayloadError(_('Not a WhatsApp Business Account post ("object" and "entry" are expected).'))
    row = WhatsAppDelivery(key=hashlib.sha256(body).hexdigest(), body=json.dumps(payload))
    delivery_id, duplicate = outbox.outbox_create_once(row, stream=STREAM)
    return Stored(delivery_id=delivery_id, duplicate=duplicate)


# --- processing ---------------------------------------------------------------------------------


def _kick() -> None:
    from integrations import tasks  # tasks import this module

    tasks.whatsapp_enqueue()


def whatsapp_register() -> None:
    outbox.consumer_register(name=CONSUMER, stream=STREAM, handle=deliveries_apply, kick=_kick)


def whatsapp_drain(*, batches: int = 20, batch_size: int = 50) -> int:
    return outbox.outbox_drain_batches(consumer=CONSUMER, batches=batches, batch_size=batch_size)


def deliveries_apply(delivery_ids: list[int]) -> None:
    """Apply stored posts in the order they came, as one batch (the outbox drain's transaction):
    the rows read at once, the senders' contacts found (or created) together and locked in the one
    order, the messages stored before looked up together, the rows marked applied in one
    statement. A batch that fails is rolled back whole and given again id by id by the drain;
    each message is stored once by its id (wamid), so nothing applied twice is stored twice."""
    rows = list(WhatsAppDelivery.objects.filter(pk__in=delivery_ids, processed_at__isnull=True).order_by("pk"))
    if not rows:
        return
    parts = [[part for value in _values(json.loads(row.body)) for part in _value_parts(value)] for row in rows]
    batch = _MessageBatch([part for row_parts in parts for part in row_parts if isinstance(part, _Inbound)])
    for row, row_parts in zip(rows, parts, strict=True):
        outcomes = [batch.apply(part) if isinstance(part, _Inbound)
                    else _status_apply(part) if isinstance(part, dict) else part for part in row_parts]
        row.outcome = "; ".join(outcomes)[:2000] or _("Nothing to apply.")
        row.processed_at = timezone.now()
    rows_update(rows, ["outcome", "processed_at"])


@dataclass(frozen=True)
class _Inbound:
    """A customer's message of a post, with what finds its contact and keeps it once."""

    wamid: str
    phone: str  # E.164
    name: str  # the profile name the post gives the sender
    message: dict[str, Any]


class _MessageBatch:
    """The contacts of a batch's senders and the messages of it stored before, each read once."""

    def __init__(self, messages: list[_Inbound]) -> None:
        names: dict[str, str] = {}
        for message in messages:  # a new contact is named by the first message of theirs, as one by one
            names.setdefault(message.phone, message.name)
        # Locked now, in the one order, rather than one by one in the messages' order as each
        # conversation is found (two batches sharing contacts would deadlock).
        self.contacts = contacts_for_phones(names, source="whatsapp", lock=True)
        # Once per message whichever of the contact's conversations took it (a resend after it closed).
        self.stored = set(Message.objects.filter(
            conversation__contact__in=[contact.pk for contact in self.contacts.values()],
            direction=MessageDirection.INBOUND,
            client_id__in={_client_id(message.wamid) for message in messages},
        ).values_list("conversation__contact_id", "client_id")) if messages else set()

    def apply(self, message: _Inbound) -> str:
        contact = self.contacts[message.phone]
        client_id = _client_id(message.wamid)
        if (contact.pk, client_id) in self.stored:  # before, or earlier in this batch
            return _("%(id)s: stored before") % {"id": message.wamid}
        text, extra = message_text(message.message)
        conversation = inbound_conversation(contact=contact, channel=Channel.MESSAGING)
        metadata = {"whatsapp": {"id": message.wamid, "from": message.phone, "type": message.message.get("type"),
                                 **extra}}
        stored = inbound_message_receive(conversation=conversation, body=text, provider_id=message.wamid,
                                         metadata=metadata)
        self.stored.add((contact.pk, client_id))
        return _("%(id)s: message %(sequence)s of conversation %(conversation)s") % {
            "id": message.wamid, "sequence": stored.sequence, "conversation": conversation.pk}


def _client_id(wamid: str) -> str:
    return provider_client_id(Channel.MESSAGING, wamid)


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list in the post (anything else in it, or a list that is not one: none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _values(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [change["value"] for entry in _dicts(payload.get("entry")) for change in _dicts(entry.get("changes"))
            if change.get("field") == "messages" and isinstance(change.get("value"), dict)]


def _name(contact: dict[str, Any]) -> str:
    profile = contact.get("profile")
    name = profile.get("name") if isinstance(profile, dict) else ""
    return name if isinstance(name, str) else ""


def _value_parts(value: dict[str, Any]) -> list[_Inbound | dict[str, Any] | str]:
    """What a change of a post holds, in its order: messages to store, status reports to apply,
    and the outcome of what is left out."""
    names = {str(contact.get("wa_id")): _name(contact) for contact in _dicts(value.get("contacts"))}
    parts: list[_Inbound | dict[str, Any] | str] = []
    for message in _dicts(value.get("messages")):
        wamid, sender = str(message.get("id") or ""), str(message.get("from") or "")
        phone = e164(sender)
        if not wamid or phone is None:
            parts.append(_("A message without an id or a sender number was left out."))
        else:
            parts.append(_Inbound(wamid=wamid, phone=phone, name=names.get(sender, ""), message=message))
    return parts + _dicts(value.get("statuses"))


def message_text(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What the conversation shows of a WhatsApp message, and what is kept beside it."""
    kind = str(message.get("type") or "")
    content = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return str(content.get("body") or ""), {}
    if kind in MEDIA_TYPES:
        caption = str(content.get("caption") or content.get("filename") or "")
        label = {"image": _("Image"), "audio": _("Voice message"), "video": _("Video"), "document": _("Document"),
                 "sticker": _("Sticker")}[kind]
        return (f"[{label}] {caption}".strip(),
                {"media": {"type": kind, "id": str(content.get("id") or ""),
                           "mime_type": str(content.get("mime_type") or ""),
                           "filename": str(content.get("filename") or "")}})
    if kind == "location":
        latitude, longitude = content.get("latitude"), content.get("longitude")
        place = ", ".join(str(part) for part in (content.get("name"), content.get("address")) if part)
        where = f"{latitude}, {longitude}"
        text = f"📍 {place} ({where})" if place else f"📍 {where}"
        return (f"{text} https://www.openstreetmap.org/?mlat={latitude}&mlon={longitude}",
                {"location": {"latitude": latitude, "longitude": longitude, "name": content.get("name") or "",
                              "address": content.get("address") or ""}})
    return _("[A %(kind)s message the desk cannot show]") % {"kind": kind or _("an unknown")}, {}


def _status_apply(status: dict[str, Any]) -> str:
    wamid, state = str(status.get("id") or ""), STATUSES.get(str(status.get("status") or ""))
    if not wamid or state is None:
        return _("A status report the desk does not know was left out.")
    errors = status.get("errors") if isinstance(status.get("errors"), list) else []
    detail = "; ".join(f"{error.get('code', '')} {error.get('title', '')}".strip()
                       for error in errors if isinstance(error, dict))
    message = delivery_state_set(channel=Channel.MESSAGING, reference=wamid, state=state, detail=detail)
    if message is None:
        return _("%(id)s %(status)s: no message with this id yet; kept for an hour, applied if the desk's send "
                 "of it is recorded meanwhile.") % {"id": wamid, "status": state}
    return _("%(id)s: %(status)s") % {"id": wamid, "status": state}
