"""Raw inbound events, stored before anything else happens to them."""

from __future__ import annotations

from django.db import models


class OmsEventStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    # Set aside by a person in the admin: never processed, unless retried.
    DISCARDED = "discarded", "Discarded"


class OmsEvent(models.Model):
    """One webhook delivery from the order-management system, unique by the OMS's event id."""

    # Unique through Meta.constraints: a unique=True field would also get a LIKE index that
    # nothing uses and every delivery would pay for.
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=48)
    occurred_at = models.DateTimeField()
    payload = models.JSONField(help_text="The whole event as the OMS sent it.")
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=16, choices=OmsEventStatus.choices, default=OmsEventStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OMS event"
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
    recipients = models.TextField(blank=True, help_text="The envelope's recipients, one a line.")
    subject = models.TextField(blank=True)
    body = models.TextField(blank=True, help_text="The text part, as received.")
    raw = models.TextField(help_text="The whole message as received (headers and body).")
    received_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(auto_now=True)
    times_received = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = "mailbox message"
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["message_id"], name="mailbox_message_id_unique")]
        indexes = [models.Index(fields=["-received_at", "-id"], name="mailbox_newest")]

    def __str__(self) -> str:
        return f"{self.subject} -> {self.recipients}"
