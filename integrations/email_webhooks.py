"""Inbound email and delivery reports from providers' webhooks, through django-anymail: Mailgun (each post signed
with HMAC-SHA256 by the account's webhook signing key) and Postmark (HTTP basic auth with a
user:password of the desk's own, put in the URL given to Postmark). anymail checks the
signature (a forged or unsigned post: 400) and parses the provider's format into a MIME
message; the desk stores it raw, as its SMTP server does (integrations.email_inbound),
once per Message-ID, so a provider's retry stores nothing twice.

Each provider's endpoint exists only while its secret is set (with DEBUG on, a development
value): an unconfigured provider answers 404.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from anymail.exceptions import AnymailError, AnymailWebhookValidationFailure
from anymail.signals import EventType, inbound, tracking
from anymail.webhooks.mailgun import MailgunInboundWebhookView, MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView, PostmarkTrackingWebhookView
from django.conf import settings
from django.core.exceptions import BadRequest
from django.urls import URLPattern, path, re_path

from conversations.channels import delivery_state_set
from conversations.models import Channel, DeliveryState
from integrations.email_inbound import EmailTooLarge, email_inbound_store
from integrations.mail import TRACKING_REFERENCE
from supportdesk.redis import get_redis, redis_key

MAILGUN_MAX_AGE_SECONDS = 300


class _BadPostIs400:
    """A post that passed the signature check but is not the provider's format (broken JSON, a
    missing field) is the caller's error: 400, not 500 (which a provider would retry)."""

    def parse_events(self, request: Any) -> list:
        try:
            return super().parse_events(request)  # type: ignore[misc]
        except (ValueError, KeyError, TypeError, AttributeError, AnymailError) as error:
            raise BadRequest(f"Not a {self.esp_name} inbound post: {error}") from error  # type: ignore[attr-defined]


class MailgunInbound(_BadPostIs400, MailgunInboundWebhookView):
    """Mailgun signs its timestamp and token, not the body: a signature is good only within
    MAILGUN_MAX_AGE_SECONDS, and only for the body it first came with (a retry posts the same
    body again; a captured signature on another body is refused)."""

    def validate_request(self, request: Any) -> None:
        timestamp, token = request.POST.get("timestamp", ""), request.POST.get("token", "")
        try:
            age = abs(time.time() - float(timestamp))
        except ValueError:
            raise AnymailWebhookValidationFailure("Mailgun webhook called without a timestamp") from None
        if age > MAILGUN_MAX_AGE_SECONDS:
            raise AnymailWebhookValidationFailure("Mailgun webhook signature is too old")
        fields = sorted((name, value) for name in request.POST for value in request.POST.getlist(name))
        files = sorted((name, upload.name, upload.size) for name in request.FILES
                       for upload in request.FILES.getlist(name))
        digest = hashlib.sha256(repr((fields, files)).encode()).hexdigest()
        key = redis_key("integrations", "mailgun-token", hashlib.sha256(token.encode()).hexdigest())
        client = get_redis()
        if not client.set(key, digest, nx=True, ex=2 * MAILGUN_MAX_AGE_SECONDS) and \
                (client.get(key) or b"").decode() != digest:
            raise AnymailWebhookValidationFailure("Mailgun webhook token used before with another body")


class PostmarkInbound(_BadPostIs400, PostmarkInboundWebhookView):
    warn_if_no_basic_auth = False  # given to as_view below, after anymail's own settings are read


class MailgunTracking(_BadPostIs400, MailgunTrackingWebhookView):
    """Mailgun's delivery reports (delivered, opened, failed), signed like its inbound posts."""


class PostmarkTracking(_BadPostIs400, PostmarkTrackingWebhookView):
    warn_if_no_basic_auth = False


# What a provider's tracking event says about a reply: delivered, read (opened or a link clicked),
# or failed for good (a hard bounce, a refusal). Others (queued, deferred, spam complaints) leave it.
TRACKED = {EventType.DELIVERED: DeliveryState.DELIVERED, EventType.OPENED: DeliveryState.READ,
           EventType.CLICKED: DeliveryState.READ, EventType.BOUNCED: DeliveryState.FAILED,
           EventType.REJECTED: DeliveryState.FAILED, EventType.FAILED: DeliveryState.FAILED}


def _tracking_received(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """A provider's report on an email the desk sent, keyed on the reference the desk gave it (the
    Message-ID, in the provider's metadata header, or Mailgun's own message-id, which is it). Applied
    at once: states only move forward, so a provider's retry changes nothing."""
    state = TRACKED.get(event.event_type)
    metadata = event.metadata if isinstance(getattr(event, "metadata", None), dict) else {}
    reference = str(metadata.get(TRACKING_REFERENCE) or getattr(event, "message_id", "") or "")
    if state is None or not reference:
        return
    detail = " ".join(str(part) for part in (getattr(event, "description", "") or "",
                                             getattr(event, "mta_response", "") or "") if part)[:1000]
    delivery_state_set(channel=Channel.EMAIL, reference=reference, state=state,
                       detail=detail if state == DeliveryState.FAILED else "")


def _inbound_received(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    message = event.message
    recipients = [message.envelope_recipient] if getattr(message, "envelope_recipient", None) else []
    try:
        email_inbound_store(message.as_bytes(), source=esp_name.lower()[:32],
                            envelope_from=getattr(message, "envelope_sender", None) or "",
                            envelope_to=recipients, provider_id=str(getattr(event, "event_id", "") or ""))
    except EmailTooLarge:
        pass  # refused like the SMTP server's 552: the provider's copy stays with the provider


def email_webhooks_register() -> None:
    inbound.connect(_inbound_received, dispatch_uid="integrations.email_webhooks.inbound")
    tracking.connect(_tracking_received, dispatch_uid="integrations.email_webhooks.tracking")


def email_webhook_urls() -> list[URLPattern]:
    patterns = []
    if settings.MAILGUN_WEBHOOK_SIGNING_KEY:
        # Signed, so no basic auth on top; anymail reads the key from ANYMAIL (supportdesk.settings).
        patterns.append(re_path(r"^mailgun/inbound(_mime)?/$", MailgunInbound.as_view(basic_auth=[]),
                                name="email-inbound-mailgun"))
        patterns.append(path("mailgun/tracking/", MailgunTracking.as_view(basic_auth=[]),
                             name="email-tracking-mailgun"))
    if settings.POSTMARK_INBOUND_BASIC_AUTH:
        patterns.append(path("postmark/inbound/",
                             PostmarkInbound.as_view(basic_auth=[settings.POSTMARK_INBOUND_BASIC_AUTH]),
                             name="email-inbound-postmark"))
        patterns.append(path("postmark/tracking/",
                             PostmarkTracking.as_view(basic_auth=[settings.POSTMARK_INBOUND_BASIC_AUTH]),
                             name="email-tracking-postmark"))
    return patterns
