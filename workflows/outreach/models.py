"""Bulk proactive outreach: a campaign sends one templated message to every member of a
segment, throttled, once per contact, cancellable."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENDING = "sending", _("Sending")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Campaign(models.Model):
    name = models.CharField(_("name"), max_length=200)
    segment = models.ForeignKey("workflows.Segment", on_delete=models.PROTECT, related_name="campaigns",
                                verbose_name=_("segment"))
    channel = models.CharField(_("channel"), max_length=64,
                               help_text=_("How the message goes out (the channels integrations provide)."))
    texts = models.JSONField(
        _("texts per language"), default=dict,
        help_text=_('{"en": {"subject": "...", "body": "Hello {{ first_name }}, ..."}, "es": {...}}: the '
                    "contact's language, else their country's, else English."),
    )
    rate_per_minute = models.PositiveIntegerField(
        _("messages per minute"), default=60, validators=[MinValueValidator(1), MaxValueValidator(100_000)],
    )
    status = models.CharField(_("status"), max_length=16, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT, editable=False)
    # Progress, counted as the batches go (the recipients table holds each one's outcome).
    total = models.PositiveIntegerField(default=0, editable=False)
    sent = models.PositiveIntegerField(default=0, editable=False)
    skipped = models.PositiveIntegerField(default=0, editable=False)
    failed = models.PositiveIntegerField(default=0, editable=False)
    # The earliest moment the next batch may go: the throttle, shared by every worker. None
    # while sending: the recipients are not fixed yet (the first batch does it).
    next_batch_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.CharField(max_length=64, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "workflows"
        ordering = ["-created_at"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.name


class RecipientStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")


class CampaignRecipient(models.Model):
    """One contact of a campaign: at most one row per contact, so at most one message."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey("timeline.Contact", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    reason = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=16, blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text=_("The channel's id of the message."))
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "workflows"
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="campaign_recipient_once"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="campaign_recipient_status"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in campaign {self.campaign_id}: {self.status}"
