"""Every timeline event goes through the outbox stream TIMELINE_STREAM, buffered or not; with
no consumer registered, no entry is written."""

from __future__ import annotations

import pytest
from django.utils import timezone

from supportdesk import outbox
from supportdesk.models import OutboxEntry
from tests.factories import ContactFactory, OrderFactory
from timeline import events
from timeline.models import TIMELINE_STREAM, TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def consumer():
    seen: list[int] = []
    outbox.consumer_register(name="test.timeline", stream=TIMELINE_STREAM, handle=seen.extend,
                             wants=lambda event: event.kind != events.EventKind.ORDER_UPDATED)
    yield seen
    outbox._consumers.pop("test.timeline", None)


def test_events_written_singly_and_buffered_get_entries_for_the_kinds_wanted(consumer) -> None:
    order = OrderFactory()
    now = timezone.now()
    single = events.order_delayed_event(contact_id=order.customer_id, order=order, delay_minutes=10,
                                        reason="", occurred_at=now, actor="oms")
    with events.buffered():
        events.order_updated_event(contact_id=order.customer_id, order=order, changes={}, occurred_at=now,
                                   actor="oms")
        buffered = events.order_status_changed_event(contact_id=order.customer_id, order=order,
                                                      status="delivered", occurred_at=now, actor="oms")
    assert single.pk and buffered.pk
    entries = set(OutboxEntry.objects.filter(stream=TIMELINE_STREAM).values_list("consumer", "ref_id"))
    assert entries == {("test.timeline", single.pk), ("test.timeline", buffered.pk)}

    outbox.outbox_drain(consumer="test.timeline")
    assert sorted(consumer) == sorted([single.pk, buffered.pk])
    assert not OutboxEntry.objects.exists()


def test_without_a_consumer_no_entry_is_written() -> None:
    contact = ContactFactory()
    events.contact_updated_event(contact=contact, changes={"tier": "gold"}, occurred_at=timezone.now(),
                                 actor="oms")
    assert TimelineEvent.objects.filter(contact=contact).count() == 1
    assert not OutboxEntry.objects.exists()


def test_new_kinds_are_known() -> None:
    assert {"rating.given", "workflow.run", "segment.entered", "segment.left",
            "outreach.sent"} <= events.known_kinds()


def test_the_stream_name_is_not_a_kind() -> None:
    """The timeline's outbox stream shares the "x.y" shape of a kind; the filters must not offer it."""
    assert events.TIMELINE_STREAM not in events.known_kinds()
