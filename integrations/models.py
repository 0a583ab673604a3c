"""Raw inbound events, stored before anything else happens to them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OmsEventStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    # Set aside by a person in the admin: never processed, unless retried.
    DISCARDED = "discarded", _("Discarded")


class OmsEvent(models.Model):
    """One webhook delivery from the order-management system, unique by the OMS's event id."""

    # Unique through Meta.constraints: a unique=True field would also get a LIKE index that
    # nothing uses and every delivery would pay for.
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=48)
    occurred_at = models.DateTimeField()
    payload = models.JSONField(help_text=_("The whole event as the OMS sent it."))
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=16, choices=OmsEventStatus.choices, default=OmsEventStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("OMS event")
        indexes = [
            models.Index(
                fields=["received_at"], name="oms_event_pending",
                condition=models.Q(status="pending"),
            ),
        ]
        # Kept to the indexes intake and the drain need: each one costs every delivery. (The
        # admin's filter by type walks the newest rows by id instead.)
        constraints = [models.UniqueConstraint(fields=["event_id"], name="oms_event_id_unique")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"


class MailboxMessage(models.Model):
    """One email the local SMTP sink received (`manage.py smtp_sink`), shown on /desk/mailbox/.

    Unique by Message-ID: a message sent again (a retried send carries the same Message-ID,
    integrations.mail) is counted in `times_received`, not stored twice.
    """

    message_id = models.CharField(max_length=998)
    mail_from = models.CharField(max_length=998, blank=True)
    recipients = models.TextField(blank=True, help_text=_("The envelope's recipients, one a line."))
    subject = models.TextField(blank=True)
    body = models.TextField(blank=True, help_text=_("The text part, as received."))
    raw = models.TextField(help_text=_("The whole message as received (headers and body)."))
    received_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(auto_now=True)
    times_received = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("mailbox message")
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["message_id"], name="mailbox_message_id_unique")]
        indexes = [models.Index(fields=["-received_at", "-id"], name="mailbox_newest")]

    def __str__(self) -> str:
        return f"{self.subject} -> {self.recipients}"


class InboundEmailStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSED = "processed", _("Processed")
    # Not a conversation's business: an auto-reply, a bounce (its message marked failed), mail
    # from the desk itself, a message with no sender address.
    IGNORED = "ignored", _("Ignored")


class InboundEmail(models.Model):
    """One email received (by the desk's SMTP server or a provider's inbound webhook), stored
    raw before anything else happens to it, once per Message-ID (`key`); the whole original is
    kept here, the conversation shows its text with the quoted history trimmed."""

    key = models.CharField(max_length=64,
                           help_text=_("SHA-256 of the Message-ID (of the whole message when it has none)."))
    message_id = models.TextField(blank=True)
    source = models.CharField(max_length=32, help_text=_("smtp, or the provider whose webhook posted it."))
    envelope_from = models.TextField(blank=True)
    envelope_to = models.TextField(blank=True, help_text=_("The envelope's recipients, one a line."))
    subject = models.TextField(blank=True)
    raw = models.BinaryField(help_text=_("The whole message as received."))
    size = models.PositiveIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=InboundEmailStatus.choices,
                              default=InboundEmailStatus.PENDING)
    outcome = models.TextField(blank=True, help_text=_("What processing did with it, in words."))
    html = models.TextField(blank=True, help_text=_("The HTML part, sanitised (nh3), for display."))
    conversation = models.ForeignKey("conversations.Conversation", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+", db_index=False)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("inbound email")
        constraints = [models.UniqueConstraint(fields=["key"], name="inbound_email_key_unique")]
        indexes = [models.Index(fields=["conversation", "-id"], name="inbound_email_conversation",
                                condition=models.Q(conversation__isnull=False))]

    def __str__(self) -> str:
        return f"{self.subject[:60]} ({self.status})"


class EmailThreadRef(models.Model):
    """A Message-ID the desk knows, and the conversation its thread belongs to: every email the
    desk sent (an agent's reply, a workflow's email) and every one it received. A reply names
    earlier ones in In-Reply-To and References; the first known one places it. A workflow's
    email has no conversation until the contact answers it."""

    key = models.CharField(max_length=64, help_text=_("SHA-256 of the Message-ID."))
    message_id = models.TextField()
    contact = models.ForeignKey("timeline.Contact", on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey("conversations.Conversation", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+", db_index=False)
    outbound = models.BooleanField(help_text=_("Sent by the desk (else received)."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("email thread reference")
        constraints = [models.UniqueConstraint(fields=["key"], name="email_thread_ref_key_unique")]

    def __str__(self) -> str:
        return self.message_id


class WhatsAppDelivery(models.Model):
    """One webhook post of the WhatsApp Business Cloud API (inbound messages, status reports),
    stored as received, once per body (the provider retries a post it got no 200 for), before
    the worker applies it; each message in it is stored once by its own id (wamid)."""

    key = models.CharField(max_length=64, help_text=_("SHA-256 of the body."))
    body = models.TextField(help_text=_("The post as received (JSON)."))
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.TextField(blank=True, help_text=_("What processing did with it, in words."))
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("WhatsApp webhook delivery")
        verbose_name_plural = _("WhatsApp webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["key"], name="whatsapp_delivery_key_unique")]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome[:60]}"


class VoiceDelivery(models.Model):
    """One webhook post of the voice provider (Twilio's shape: a call ringing, the caller's menu
    choice, a callback request, the queue's result, a status or a recording report), stored as
    received, once per path and parameters (the provider retries a post it got no answer for),
    before the worker applies it to the call."""

    key = models.CharField(max_length=64, help_text=_("SHA-256 of the path and the sorted parameters."))
    kind = models.CharField(max_length=24, help_text=_("Which webhook it came to."))
    call_sid = models.CharField(max_length=64, blank=True, default="", help_text=_("The provider's CallSid."))
    body = models.TextField(help_text=_("The post's parameters as received (JSON)."))
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.TextField(blank=True, help_text=_("What processing did with it, in words."))
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("voice webhook delivery")
        verbose_name_plural = _("voice webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["key"], name="voice_delivery_key_unique")]
        indexes = [models.Index(fields=["call_sid"], name="voice_delivery_call")]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.call_sid}"
