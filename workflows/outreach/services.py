"""Bulk proactive outreach: check, preview, start, send throttled, cancel.

A campaign's recipients are fixed when it starts (the segment's members then, one row each:
`CampaignRecipient` is unique per campaign and contact, so nobody gets two messages however
often a batch is retried). Batches go out at the campaign's rate: each batch claims the
next slot (`next_batch_at`) in one UPDATE, so two workers, a retried task or a duplicate
never send faster than the rate; each message carries an idempotency key (campaign +
contact) the channel uses (the email's Message-ID), so a batch retried after a crash between
sending and committing does not deliver twice. Contacts who opted out are skipped; every
send is an `outreach.sent` event on the contact's timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from supportdesk.errors import Conflict, DomainError
from timeline import events
from timeline.models import Contact
from workflows import registry, templates
from workflows.outreach.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from workflows.segments.models import SegmentMember

log = logging.getLogger(__name__)

# A batch is about this many seconds' worth of the rate (at least one message, at most
# BATCH_MAX): 60 a minute goes as 10 every 10 s, 1 a minute as 1 every 60 s.
BATCH_SECONDS = 10
BATCH_MAX = 500
SAMPLE_SIZE = 3


def campaign_variables(contact: Contact) -> dict[str, Any]:
    """The template variables of a campaign's message (the workflows' contact variables)."""
    name = (contact.name or "").strip()
    return {
        "contact.name": name, "contact.first_name": name.split(" ", 1)[0] if name else "",
        "contact.external_id": contact.external_id, "contact.email": contact.email,
        "contact.language": contact.preferred_language, "contact.country": contact.country,
        "contact.tier": contact.tier, "contact.lifetime_order_value": contact.lifetime_order_value,
        "desk.name": _("Customer service"),
    }


def campaign_allowed_variables() -> frozenset[str]:
    return frozenset(name for name in templates.allowed_variables(("contact",))
                     if name.startswith("contact.") or name == "desk.name")


def campaign_errors(*, channel: str, texts: Any) -> dict[str, list[str]]:
    """What is wrong with a campaign's channel and texts, by field ({} when nothing is)."""
    errors: dict[str, list[str]] = {}
    if channel not in registry.channels():
        known = ", ".join(sorted(registry.channels())) or _("none is registered")
        errors["channel"] = [_("Unknown channel %(channel)r; known: %(known)s.") % {
            "channel": channel, "known": known}]
    text_errors = templates.template_errors(texts, campaign_allowed_variables())
    if text_errors:
        errors["texts"] = text_errors
    return errors


def campaign_missing_languages(texts: Any) -> list[str]:
    """The languages the desk serves that the texts lack (a warning, not an error)."""
    if not isinstance(texts, dict):
        return []
    return templates.template_missing_languages(texts, templates.served_languages())


# --- preview ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    contact: Contact
    rendered: templates.Rendered | None
    error: str = ""


@dataclass(frozen=True)
class CampaignPreview:
    members: int  # the segment's members now
    opted_out: int  # of which would be skipped
    samples: list[Sample]

    @property
    def would_send(self) -> int:
        return self.members - self.opted_out


def campaign_preview(*, segment_id: int, texts: Any, sample_size: int = SAMPLE_SIZE) -> CampaignPreview:
    """How many would get the message now, and a few of them rendered in their language."""
    members = SegmentMember.objects.filter(segment_id=segment_id)
    counts = members.aggregate(
        total=_count(), opted_out=_count(contact__opted_out=True))
    sample_ids = list(members.filter(contact__opted_out=False).order_by("contact_id")
                      .values_list("contact_id", flat=True)[:sample_size])
    contacts = Contact.objects.in_bulk(sample_ids)
    samples = []
    for contact_id in sample_ids:
        contact = contacts[contact_id]
        try:
            rendered = templates.template_render(texts, language=contact.preferred_language,
                                                 country=contact.country, variables=campaign_variables(contact))
            samples.append(Sample(contact=contact, rendered=rendered))
        except (ValueError, TypeError, AttributeError) as exc:
            samples.append(Sample(contact=contact, rendered=None, error=str(exc)))
    return CampaignPreview(members=counts["total"], opted_out=counts["opted_out"], samples=samples)


def _count(**conditions: Any):
    from django.db.models import Count, Q

    return Count("id", filter=Q(**conditions)) if conditions else Count("id")


# --- start, cancel ------------------------------------------------------------------------------


def campaign_start(*, campaign_id: int, actor: str) -> Campaign:
    """Fix the recipients (the segment's members now) and start sending. Idempotent: a
    campaign already sending is left as it is; a finished or cancelled one is refused."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status == CampaignStatus.SENDING:
            return campaign
        if campaign.status != CampaignStatus.DRAFT:
            raise Conflict(_("This campaign is %(status)s; it cannot start again.") % {
                "status": campaign.get_status_display()}, code="campaign_not_draft")
        errors = campaign_errors(channel=campaign.channel, texts=campaign.texts)
        if errors:
            raise DomainError(" ".join(message for messages in errors.values() for message in messages),
                              code="campaign_invalid", details=errors)
        now = timezone.now()
        campaign.status = CampaignStatus.SENDING
        campaign.started_at = now
        campaign.next_batch_at = None  # the first batch fixes the recipients (see _recipients_fix)
        campaign.created_by = campaign.created_by or actor
        campaign.save(update_fields=["status", "started_at", "next_batch_at", "created_by", "updated_at"])
        _enqueue_after_commit(campaign.pk, countdown=0)
    log.info("Campaign %s started by %s", campaign.pk, actor)
    return campaign


def campaign_cancel(*, campaign_id: int, actor: str) -> Campaign:
    """Stop sending: the batch in flight finishes, no other starts; recipients not reached
    stay pending. Idempotent; a finished campaign is refused."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status == CampaignStatus.CANCELLED:
            return campaign
        if campaign.status == CampaignStatus.DONE:
            raise Conflict(_("This campaign has finished; there is nothing to cancel."),
                           code="campaign_done")
        campaign.status = CampaignStatus.CANCELLED
        campaign.finished_at = timezone.now()
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
    log.info("Campaign %s cancelled by %s", campaign_id, actor)
    return campaign


def _enqueue_after_commit(campaign_id: int, *, countdown: float) -> None:
    from workflows.outreach import tasks  # the tasks import these services

    transaction.on_commit(lambda: tasks.campaign_send_enqueue(campaign_id, countdown=countdown))


# --- sending ------------------------------------------------------------------------------------


def batch_plan(rate_per_minute: int) -> tuple[int, float]:
    """(messages per batch, seconds between batches) for a rate: never more than the rate
    in any minute."""
    rate = max(1, int(rate_per_minute))
    size = max(1, min(BATCH_MAX, rate * BATCH_SECONDS // 60))
    return size, 60.0 * size / rate


@dataclass(frozen=True)
class BatchResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    claimed: bool = False  # this call had the slot (sent a batch or found the end)
    next_in_seconds: float | None = None  # when the next batch may go; None: campaign over


def campaign_send_batch(*, campaign_id: int) -> BatchResult:
    """Send the campaign's next batch if its slot has come (else nothing: another worker has
    it, or it is too early). Safe to call any number of times, from any number of workers."""
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().select_related("segment").get(pk=campaign_id)
        if campaign.status != CampaignStatus.SENDING:
            return BatchResult()
        if campaign.next_batch_at is None:
            _recipients_fix(campaign)
        elif campaign.next_batch_at > now:
            return BatchResult(next_in_seconds=(campaign.next_batch_at - now).total_seconds())
        size, interval = batch_plan(campaign.rate_per_minute)
        recipients = list(CampaignRecipient.objects.select_for_update(skip_locked=True)
                          .filter(campaign_id=campaign.pk, status=RecipientStatus.PENDING)
                          .order_by("id")[:size])
        if not recipients:
            if not CampaignRecipient.objects.filter(campaign_id=campaign.pk,
                                                    status=RecipientStatus.PENDING).exists():
                campaign.status = CampaignStatus.DONE
                campaign.finished_at = now
                campaign.save(update_fields=["status", "finished_at", "updated_at"])
                log.info("Campaign %s done: %s sent, %s skipped, %s failed", campaign.pk,
                         campaign.sent, campaign.skipped, campaign.failed)
                return BatchResult(claimed=True)
            return BatchResult(claimed=True, next_in_seconds=interval)  # held by a batch in flight
        campaign.next_batch_at = now + timedelta(seconds=interval)
        campaign.save(update_fields=["next_batch_at", "updated_at"])
        outcome = _send(campaign, recipients)
        Campaign.objects.filter(pk=campaign.pk).update(
            sent=F("sent") + outcome.sent, skipped=F("skipped") + outcome.skipped,
            failed=F("failed") + outcome.failed)
    return BatchResult(sent=outcome.sent, skipped=outcome.skipped, failed=outcome.failed, claimed=True,
                       next_in_seconds=interval)


def _recipients_fix(campaign: Campaign) -> None:
    """The segment's members now become the campaign's recipients, one row each, set-based
    (in the first batch's task, not in the supervisor's request: a segment may hold millions)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {quote(CampaignRecipient._meta.db_table)}
                   (campaign_id, contact_id, status, reason, language, reference)
            SELECT %s, contact_id, %s, '', '', ''
              FROM {quote(SegmentMember._meta.db_table)} WHERE segment_id = %s
            ON CONFLICT (campaign_id, contact_id) DO NOTHING
        """, [campaign.pk, RecipientStatus.PENDING, campaign.segment_id])
    campaign.total = CampaignRecipient.objects.filter(campaign_id=campaign.pk).count()
    campaign.save(update_fields=["total", "updated_at"])
    log.info("Campaign %s goes to %s recipients", campaign.pk, campaign.total)


def campaign_send_key(campaign_id: int, contact_id: int) -> str:
    return f"campaign:{campaign_id}:contact:{contact_id}"


def _send(campaign: Campaign, recipients: list[CampaignRecipient]) -> BatchResult:
    channel = registry.channel(campaign.channel)
    contacts = Contact.objects.in_bulk([recipient.contact_id for recipient in recipients])
    sent = skipped = failed = 0
    now = timezone.now()
    actor = f"campaign:{campaign.pk}"
    with events.buffered():
        for recipient in recipients:
            contact = contacts.get(recipient.contact_id)
            if contact is None or contact.merged_into_id is not None:
                recipient.status, recipient.reason = RecipientStatus.SKIPPED, "contact gone"
            elif contact.opted_out:
                recipient.status, recipient.reason = RecipientStatus.SKIPPED, "opted out"
            elif channel is None:
                recipient.status, recipient.reason = RecipientStatus.FAILED, f"no channel {campaign.channel}"
            else:
                try:
                    rendered = templates.template_render(
                        campaign.texts, language=contact.preferred_language, country=contact.country,
                        variables=campaign_variables(contact))
                    reference = channel.send(
                        contact, rendered, idempotency_key=campaign_send_key(campaign.pk, contact.pk),
                        context={"campaign_id": campaign.pk, "actor": actor})
                except Exception as exc:  # one contact's failure must not stop the campaign
                    log.warning("Campaign %s could not send to contact %s", campaign.pk, contact.pk,
                                exc_info=True)
                    recipient.status = RecipientStatus.FAILED
                    recipient.reason = f"{type(exc).__name__}: {exc}"[:200]
                else:
                    recipient.status, recipient.sent_at = RecipientStatus.SENT, now
                    recipient.language, recipient.reference = rendered.language, str(reference or "")[:200]
                    events.outreach_sent_event(
                        contact_id=contact.pk, campaign_id=campaign.pk, campaign_name=campaign.name,
                        channel=campaign.channel, language=rendered.language, subject=rendered.subject,
                        reference=recipient.reference, occurred_at=now, actor=actor)
            if recipient.status == RecipientStatus.SENT:
                sent += 1
            elif recipient.status == RecipientStatus.SKIPPED:
                skipped += 1
            else:
                failed += 1
    CampaignRecipient.objects.bulk_update(recipients, ["status", "reason", "language", "reference", "sent_at"])
    return BatchResult(sent=sent, skipped=skipped, failed=failed)


def campaigns_stalled(*, grace_seconds: float = 60.0) -> list[int]:
    """Campaigns sending whose next batch is overdue by more than the grace: their task was
    lost (a worker died, the broker restarted); the beat sends them on."""
    overdue = timezone.now() - timedelta(seconds=grace_seconds)
    lost = Q(next_batch_at__lt=overdue) | Q(next_batch_at__isnull=True, started_at__lt=overdue)
    return list(Campaign.objects.filter(lost, status=CampaignStatus.SENDING).values_list("pk", flat=True))
