"""WhatsApp outbound: the transport `conversations.channels` drives for channel "messaging".

WhatsApp lets a business write freely only within 24 hours of the customer's last message
(the customer service window); outside it only an approved template may start the talk
again. An agent's reply inside the window goes as text; outside it, as the re-engagement
template (WHATSAPP_TEMPLATE, in the conversation's language, the reply as its one
parameter). The workspace says which applies (`window_state`). The provider's answer names
the message (wamid), by which its status reports come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.channels import Sent, TransportRefused, TransportRetry
from conversations.models import Conversation, Message, MessageDirection

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class WindowState:
    open: bool
    closes_at: datetime | None  # while open
    template: str  # what a reply is sent as while closed

    @property
    def label(self) -> str:
        if self.open:
            return _("Within the 24-hour window: replies go as text until %(time)s.") % {
                "time": timezone.localtime(self.closes_at).strftime("%H:%M")}
        return _("Outside the 24-hour window: a reply goes as the approved template \u201c%(template)s\u201d.") % {
            "template": self.template}


def window_state(conversation: Conversation, *, now: datetime | None = None) -> WindowState:
    last = (Message.objects.filter(conversation_id=conversation.pk, direction=MessageDirection.INBOUND)
            .order_by("-sequence").values_list("created_at", flat=True).first())
    now = now or timezone.now()
    closes_at = last + WINDOW if last is not None else None
    return WindowState(open=closes_at is not None and closes_at > now, closes_at=closes_at,
                       template=settings.WHATSAPP_TEMPLATE)


def window_hint(conversation: Conversation) -> str:
    """conversations.channels' composer hint for WhatsApp."""
    return window_state(conversation).label


def _payload(message: Message, conversation: Conversation, to: str) -> dict:
    if window_state(conversation).open:
        return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
                "text": {"preview_url": False, "body": message.body}}
    return {"messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": settings.WHATSAPP_TEMPLATE, "language": {"code": conversation.language or "en"},
                         # A template's parameter takes no line breaks, tabs or runs of spaces.
                         "components": [{"type": "body", "parameters": [
                             {"type": "text", "text": " ".join(message.body.split())}]}]}}


def whatsapp_transport_send(message: Message, conversation: Conversation, idempotency_key: str) -> Sent:
    to = (conversation.contact.phone or "").lstrip("+")
    if not to.isdigit():
        raise TransportRefused(_("The contact has no phone number to write to on WhatsApp."))
    payload = _payload(message, conversation, to)
    url = f"{settings.WHATSAPP_API_URL.rstrip('/')}/{settings.WHATSAPP_PHONE_NUMBER_ID}/messages"
    try:
        # The Cloud API has no idempotency key of its own; the fake provider honours this one.
        response = requests.post(url, json=payload, timeout=settings.WHATSAPP_TIMEOUT_SECONDS, headers={
            "Authorization": f"Bearer {settings.WHATSAPP_ACCESS_TOKEN}", "Idempotency-Key": idempotency_key})
    except requests.RequestException as error:
        raise TransportRetry(_("WhatsApp did not answer: %(error)s") % {"error": error}) from error
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if response.status_code == 429 or response.status_code >= 500:
        raise TransportRetry(_("WhatsApp answered %(status)s; trying again.") % {"status": response.status_code})
    if response.status_code >= 400:
        error = answer.get("error") if isinstance(answer, dict) else None
        reason = (error or {}).get("message") if isinstance(error, dict) else None
        raise TransportRefused(_("WhatsApp refused the message (%(status)s): %(reason)s") % {
            "status": response.status_code, "reason": reason or response.text[:200]})
    messages = answer.get("messages") if isinstance(answer, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    if not wamid:  # taken (2xx), so not sent again; its reports cannot be matched to it
        return Sent(reference="", metadata={"whatsapp": {"as": payload["type"], "unnamed": True}})
    return Sent(reference=str(wamid), metadata={"whatsapp": {"id": wamid, "as": payload["type"]}})
