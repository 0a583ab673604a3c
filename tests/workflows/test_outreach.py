"""Bulk outreach: throttled batches (sizes and countdowns, not wall time), once per contact
(also across a crashed and retried batch), cancel, opted-out contacts skipped, every send on
the timeline, previews and checks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from supportdesk.errors import Conflict, DomainError
from tests.factories import ContactFactory
from timeline import events
from timeline.models import TimelineEvent
from workflows import registry
from workflows.outreach import services, tasks
from workflows.outreach.models import Campaign, CampaignRecipient, CampaignStatus, RecipientStatus
from workflows.segments import services as segments
from workflows.segments.models import Segment

pytestmark = pytest.mark.django_db

TEXTS = {
    "en": {"subject": "Hello {{ contact.first_name }}", "body": "Dear {{ contact.name }}, we miss you."},
    "es": {"subject": "Hola {{ contact.first_name }}", "body": "Querido {{ contact.name }}, te echamos de menos."},
}
HIGH_VALUE = {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300}


@pytest.fixture
def outbox_channel() -> list[dict]:
    """A channel that records what it is asked to send (the edge a provider would be)."""
    sent: list[dict] = []

    def send(contact, rendered, *, idempotency_key: str, context: dict) -> str:
        sent.append({"contact": contact.pk, "rendered": rendered, "key": idempotency_key})
        return f"ref-{idempotency_key}"

    registry.channel_register("recorder", label="Recorder", send=send)
    return sent


def campaign_make(members: int, *, rate: int = 60, opted_out: int = 0, language: str = "es") -> Campaign:
    for index in range(members):
        ContactFactory(lifetime_order_value=Decimal("500"), name=f"Ana Number{index}",
                       preferred_language=language, opted_out=index < opted_out)
    segment = Segment(name="High value", key="high-value", conditions=HIGH_VALUE)
    segments.segment_save(segment=segment)
    return Campaign.objects.create(name="We miss you", segment=segment, channel="recorder", texts=TEXTS,
                                   rate_per_minute=rate)


def slot_open(campaign: Campaign) -> None:
    """Time passes until the next batch's slot (the test moves the slot, not the clock)."""
    Campaign.objects.filter(pk=campaign.pk).update(next_batch_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.parametrize(("rate", "plan"), [
    (1, (1, 60.0)), (6, (1, 10.0)), (30, (5, 10.0)), (60, (10, 10.0)), (600, (100, 10.0)),
    (100_000, (500, 0.3)),
])
def test_a_batch_is_ten_seconds_of_the_rate(rate: int, plan: tuple[int, float]) -> None:
    size, interval = services.batch_plan(rate)
    assert (size, interval) == plan
    assert size * 60 / interval <= rate + 1e-9  # never faster than the rate


def test_batches_go_at_the_rate_until_everyone_is_reached(outbox_channel) -> None:
    campaign = campaign_make(25, rate=60)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    # The first batch: ten messages, the next slot ten seconds later
    first = services.campaign_send_batch(campaign_id=campaign.pk)
    assert (first.sent, first.claimed, first.next_in_seconds) == (10, True, 10.0)
    # A second call at once (a duplicate task, another worker) sends nothing
    early = services.campaign_send_batch(campaign_id=campaign.pk)
    assert early.sent == 0 and not early.claimed and 9 < early.next_in_seconds <= 10
    slot_open(campaign)
    assert services.campaign_send_batch(campaign_id=campaign.pk).sent == 10
    slot_open(campaign)
    assert services.campaign_send_batch(campaign_id=campaign.pk).sent == 5
    slot_open(campaign)
    last = services.campaign_send_batch(campaign_id=campaign.pk)
    assert last.claimed and last.next_in_seconds is None
    campaign.refresh_from_db()
    assert (campaign.status, campaign.total, campaign.sent, campaign.skipped, campaign.failed) == (
        CampaignStatus.DONE, 25, 25, 0, 0)
    assert len({call["contact"] for call in outbox_channel}) == len(outbox_channel) == 25


def test_the_task_queues_the_next_batch_after_the_interval_and_never_forks(outbox_channel) -> None:
    campaign = campaign_make(15, rate=30)  # 5 every 10 s
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    with mock.patch.object(tasks.campaign_send, "apply_async", autospec=True) as enqueue:
        assert tasks.campaign_send(campaign.pk) == 5
        enqueue.assert_called_once_with((campaign.pk,), countdown=10.0)
        # A duplicate task run before the slot sends and queues nothing
        assert tasks.campaign_send(campaign.pk) == 0
        assert enqueue.call_count == 1


def test_starting_queues_the_first_batch_after_commit(outbox_channel, django_capture_on_commit_callbacks) -> None:
    campaign = campaign_make(2)
    with mock.patch.object(tasks.campaign_send, "apply_async", autospec=True) as enqueue:
        with django_capture_on_commit_callbacks(execute=True):
            services.campaign_start(campaign_id=campaign.pk, actor="user:1")
        enqueue.assert_called_once_with((campaign.pk,), countdown=0)


def test_once_per_contact_across_restarts_and_a_crashed_batch(outbox_channel) -> None:
    campaign = campaign_make(4, rate=60)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")  # a double click
    # Given a batch that dies after sending its first message, before committing
    real = events.outreach_sent_event
    calls = {"n": 0}

    def crash_on_first(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database went away")
        return real(**kwargs)

    with mock.patch.object(events, "outreach_sent_event", side_effect=crash_on_first), \
            pytest.raises(ConnectionError):
        services.campaign_send_batch(campaign_id=campaign.pk)
    # When the batch is retried
    result = services.campaign_send_batch(campaign_id=campaign.pk)
    # Then every contact is sent to once as far as the desk knows, and the message the crash
    # interrupted went again with the same idempotency key (the channel's Message-ID)
    assert result.sent == 4
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 4
    assert CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.SENT).count() == 4
    assert TimelineEvent.objects.filter(kind="outreach.sent").count() == 4
    keys = [call["key"] for call in outbox_channel]
    assert len(keys) == 5 and len(set(keys)) == 4
    assert keys[0] == keys[1] == services.campaign_send_key(campaign.pk, outbox_channel[0]["contact"])


def test_cancel_stops_the_next_batches(outbox_channel) -> None:
    campaign = campaign_make(25, rate=60)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    services.campaign_send_batch(campaign_id=campaign.pk)
    services.campaign_cancel(campaign_id=campaign.pk, actor="user:1")
    slot_open(campaign)
    result = services.campaign_send_batch(campaign_id=campaign.pk)
    assert result.sent == 0 and result.next_in_seconds is None
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED and campaign.sent == 10
    assert CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).count() == 15
    assert len(outbox_channel) == 10
    # cancelling again is harmless; starting again is refused
    services.campaign_cancel(campaign_id=campaign.pk, actor="user:1")
    with pytest.raises(Conflict):
        services.campaign_start(campaign_id=campaign.pk, actor="user:1")


def test_a_finished_campaign_cannot_be_cancelled(outbox_channel) -> None:
    campaign = campaign_make(1)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    services.campaign_send_batch(campaign_id=campaign.pk)
    slot_open(campaign)
    services.campaign_send_batch(campaign_id=campaign.pk)
    with pytest.raises(Conflict):
        services.campaign_cancel(campaign_id=campaign.pk, actor="user:1")


def test_opted_out_contacts_are_skipped(outbox_channel) -> None:
    campaign = campaign_make(5, opted_out=2)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    result = services.campaign_send_batch(campaign_id=campaign.pk)
    assert (result.sent, result.skipped) == (3, 2)
    skipped = CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.SKIPPED)
    assert {recipient.reason for recipient in skipped} == {"opted out"}
    assert {call["contact"] for call in outbox_channel}.isdisjoint(skipped.values_list("contact_id", flat=True))
    assert TimelineEvent.objects.filter(kind="outreach.sent").count() == 3


def test_every_send_is_on_the_contacts_timeline_in_their_language(outbox_channel) -> None:
    campaign = campaign_make(1, language="es")
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    services.campaign_send_batch(campaign_id=campaign.pk)
    [call] = outbox_channel
    assert call["rendered"].language == "es" and call["rendered"].subject == "Hola Ana"
    [event] = TimelineEvent.objects.filter(kind="outreach.sent")
    assert event.contact_id == call["contact"]
    assert event.payload["campaign"] == "We miss you" and event.payload["language"] == "es"
    assert event.actor == f"campaign:{campaign.pk}"


def test_a_failing_send_is_counted_and_the_rest_go(outbox_channel) -> None:
    campaign = campaign_make(3)

    def flaky(contact, rendered, *, idempotency_key, context):
        if contact.name.endswith("1"):
            raise RuntimeError("mailbox full")
        outbox_channel.append({"contact": contact.pk, "key": idempotency_key})
        return "ok"

    registry.channel_register("recorder", label="Recorder", send=flaky)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    result = services.campaign_send_batch(campaign_id=campaign.pk)
    assert (result.sent, result.failed) == (2, 1)
    failed = CampaignRecipient.objects.get(campaign=campaign, status=RecipientStatus.FAILED)
    assert "mailbox full" in failed.reason


def test_preview_counts_and_renders_samples_in_each_language(outbox_channel) -> None:
    campaign = campaign_make(4, opted_out=1, language="es")
    ContactFactory(lifetime_order_value=Decimal("900"), name="Jean Dupont", preferred_language="fr",
                   country="GB")
    segments.segment_refresh(segment_id=campaign.segment_id)
    preview = services.campaign_preview(segment_id=campaign.segment_id, texts=TEXTS, sample_size=10)
    assert (preview.members, preview.opted_out, preview.would_send) == (5, 1, 4)
    languages = {sample.contact.name: sample.rendered.language for sample in preview.samples}
    assert languages["Jean Dupont"] == "en"  # no French text; the country's language is English
    assert {sample.rendered.subject for sample in preview.samples} >= {"Hola Ana", "Hello Jean"}
    assert not outbox_channel  # nothing was sent


def test_bad_channel_and_texts_are_refused_with_messages(outbox_channel) -> None:
    errors = services.campaign_errors(channel="pigeon", texts={"en": {"subject": "Hi {{ contact.shoe }}",
                                                                      "body": ""}})
    assert "pigeon" in errors["channel"][0]
    assert any("contact.shoe" in message for message in errors["texts"])
    assert any("body" in message for message in errors["texts"])
    campaign = campaign_make(1)
    Campaign.objects.filter(pk=campaign.pk).update(channel="pigeon")
    with pytest.raises(DomainError):
        services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    assert not CampaignRecipient.objects.exists()


def test_a_stalled_campaign_is_sent_on_by_the_sweep(outbox_channel) -> None:
    campaign = campaign_make(2)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    Campaign.objects.filter(pk=campaign.pk).update(next_batch_at=timezone.now() - timedelta(minutes=5))
    with mock.patch.object(tasks.campaign_send, "apply_async", autospec=True) as enqueue:
        assert tasks.campaigns_resume() == 1
        enqueue.assert_called_once_with((campaign.pk,), countdown=0)


def test_recipients_are_the_members_when_the_first_batch_runs(outbox_channel) -> None:
    campaign = campaign_make(3)
    services.campaign_start(campaign_id=campaign.pk, actor="user:1")
    assert not CampaignRecipient.objects.exists()  # the request that starts it stays quick
    # A contact who joins the segment after the recipients were fixed is not one of them
    services.campaign_send_batch(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.total == 3 and campaign.sent == 3
    segments.segment_add(campaign.segment_id, ContactFactory(lifetime_order_value=Decimal("1")).pk, actor="u")
    slot_open(campaign)
    services.campaign_send_batch(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.total, len(outbox_channel)) == (CampaignStatus.DONE, 3, 3)
