"""A provider's delivery report that outruns the commit of its send (the provider answered the
send and reported "delivered" before the desk's transaction recorded the message's reference)
is kept and applied once the send is recorded, never lost; one about a message the desk never
sent is dropped after an hour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import channels, services
from conversations.models import DeliveryReport, DeliveryState, Message
from tests.scenarios import conversation_assigned, online_agent

pytestmark = pytest.mark.django_db

CHANNEL = "messaging"


@pytest.fixture
def reply(monkeypatch):
    """An agent's reply on a channel whose transport answers with reference "wamid.1" (and, as a
    fast provider does, has its report about it arrive first when `report_first` is set)."""
    state = {"report_first": None}

    def send(message, conversation, key):
        if state["report_first"]:
            channels.delivery_state_set(channel=CHANNEL, reference="wamid.1", state=state["report_first"])
        return channels.Sent(reference="wamid.1")

    monkeypatch.setitem(channels._transports, CHANNEL, channels.Transport(channel=CHANNEL, send=send))
    profile = online_agent()
    conversation = conversation_assigned(profile)
    type(conversation).objects.filter(pk=conversation.pk).update(channel=CHANNEL)

    def make(report_first: str | None = None) -> Message:
        state["report_first"] = report_first
        return services.agent_reply(conversation_id=conversation.pk, user=profile.user, body="On its way")

    return make


def test_a_report_before_the_send_is_recorded_is_applied_with_it(reply):
    message = reply(report_first=DeliveryState.DELIVERED)
    assert Message.objects.get(pk=message.pk).delivery_state == DeliveryState.QUEUED
    channels.outbound_drain()
    message.refresh_from_db()
    assert (message.delivery_state, message.delivery_reference) == (DeliveryState.DELIVERED, "wamid.1")
    assert not DeliveryReport.objects.exists()


def test_a_report_kept_after_the_send_looked_is_applied_by_the_next_drain(reply):
    message = reply()
    channels.outbound_drain()
    # As if the report's transaction had committed after the send's check, before its commit.
    DeliveryReport.objects.create(channel=CHANNEL, reference="wamid.1", state=DeliveryState.READ)
    channels.outbound_drain()
    message.refresh_from_db()
    assert message.delivery_state == DeliveryState.READ
    assert not DeliveryReport.objects.exists()


def test_reports_about_messages_never_sent_are_dropped_after_an_hour(db):
    assert channels.delivery_state_set(channel=CHANNEL, reference="wamid.nobody", state="read") is None
    assert DeliveryReport.objects.count() == 1
    channels.reports_pending_apply()
    assert DeliveryReport.objects.count() == 1  # still young: its send may yet be recorded
    DeliveryReport.objects.update(received_at=timezone.now() - timedelta(hours=2))
    assert channels.reports_pending_apply() == 0
    assert not DeliveryReport.objects.exists()


def test_a_reply_the_provider_never_took_says_so_and_a_retry_sends_it(reply, monkeypatch, settings):
    from supportdesk import outbox
    from supportdesk.models import OutboxEntry

    settings.OUTBOX_MAX_ATTEMPTS = 2
    down = {"on": True}
    sent = channels._transports[CHANNEL].send

    def flaky(message, conversation, key):
        if down["on"]:
            raise channels.TransportRetry("connection refused")
        return sent(message, conversation, key)

    monkeypatch.setitem(channels._transports, CHANNEL, channels.Transport(channel=CHANNEL, send=flaky))
    message = reply()
    channels.outbound_drain()
    channels.outbound_drain()
    message.refresh_from_db()
    entry = OutboxEntry.objects.get(consumer=channels.CONSUMER)
    assert entry.parked_at is not None
    assert message.delivery_state == DeliveryState.QUEUED
    assert "Not sent yet" in message.delivery_detail and "connection refused" in message.delivery_detail

    down["on"] = False
    outbox.outbox_retry(entry_ids=[entry.pk])
    channels.outbound_drain()
    message.refresh_from_db()
    assert (message.delivery_state, message.delivery_detail) == (DeliveryState.SENT, "")
