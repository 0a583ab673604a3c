"""The core's outbox: a producer's rows and their consumers' entries written in one go, and
the admin's way back for parked entries."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from routing import services as routing
from routing.models import Queue, WorkItem, WorkItemEvent
from supportdesk import outbox
from supportdesk.models import OutboxEntry
from tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

STREAM = "tests.stream"


@pytest.fixture
def item() -> WorkItem:
    Queue.objects.create(key="general", name="General")
    conversation = ConversationFactory(contact=ContactFactory(preferred_language="es"), channel="chat")
    return routing.work_item_enqueue(conversation_id=conversation.pk, channel="chat",
                                     attributes={"language": "es", "contact_kind": "customer"})


@pytest.fixture
def consumers():
    """Two consumers of a stream of the tests' own, gone again afterwards."""
    outbox.consumer_register(name="tests.everything", stream=STREAM, handle=lambda ids: None)
    outbox.consumer_register(name="tests.accepted", stream=STREAM, handle=lambda ids: None,
                             wants=lambda event: event.kind == "accepted")
    yield
    for name in ("tests.everything", "tests.accepted"):
        outbox._consumers.pop(name)


def _events(item: WorkItem, *kinds: str) -> list[WorkItemEvent]:
    return [WorkItemEvent(item=item, kind=kind, at=timezone.now(), queue_id=item.queue_id,
                          detail={"n": n}) for n, kind in enumerate(kinds)]


def test_rows_and_the_entries_their_consumers_want_are_written_together(item, consumers):
    events = _events(item, "offered", "accepted", "declined")

    outbox.outbox_bulk_create(events, stream=STREAM)

    # each object got the id of its own row
    stored = {event.pk: (event.kind, event.detail) for event in WorkItemEvent.objects.filter(
        pk__in=[e.pk for e in events])}
    assert [stored[event.pk] for event in events] == [
        ("offered", {"n": 0}), ("accepted", {"n": 1}), ("declined", {"n": 2})]
    # one entry per consumer that wants the row
    entries = sorted(OutboxEntry.objects.filter(stream=STREAM).values_list("consumer", "ref_id"))
    accepted = events[1].pk
    assert entries == sorted([("tests.accepted", accepted)]
                             + [("tests.everything", event.pk) for event in events])


def test_a_stream_nobody_consumes_writes_only_the_rows(item):
    events = _events(item, "offered")

    outbox.outbox_bulk_create(events, stream="tests.unheard")

    assert WorkItemEvent.objects.filter(pk=events[0].pk, kind="offered").exists()
    assert not OutboxEntry.objects.filter(stream="tests.unheard").exists()


def test_draining_an_unknown_consumer_is_an_error():
    with pytest.raises(LookupError):
        outbox.outbox_drain(consumer="tests.nobody")


def _entry(ref_id: int, *, parked: bool) -> OutboxEntry:
    return OutboxEntry.objects.create(stream=STREAM, consumer="tests.everything", ref_id=ref_id, attempts=5,
                                      last_error="ValueError: boom",
                                      parked_at=timezone.now() if parked else None)


def _admin_action(admin_client, action: str, entries: list[OutboxEntry]):
    response = admin_client.post(reverse("admin:supportdesk_outboxentry_changelist"),
                                 {"action": action, "_selected_action": [e.pk for e in entries]},
                                 follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_the_admin_retries_only_parked_entries(admin_client):
    parked, waiting = _entry(1, parked=True), _entry(2, parked=False)

    text = _admin_action(admin_client, "retry_parked", [parked, waiting])

    parked.refresh_from_db()
    waiting.refresh_from_db()
    assert (parked.parked_at, parked.attempts, parked.last_error) == (None, 0, "")
    assert (waiting.attempts, waiting.last_error) == (5, "ValueError: boom")  # untouched
    assert "1 entry put back" in text and "1 skipped" in text


def test_the_admin_discards_only_parked_entries(admin_client):
    parked, waiting = _entry(1, parked=True), _entry(2, parked=False)

    text = _admin_action(admin_client, "discard_parked", [parked, waiting])

    assert list(OutboxEntry.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert "1 entry discarded" in text and "1 skipped" in text


def test_many_rows_are_written_a_chunk_at_a_time_each_with_its_entries(item, consumers, monkeypatch):
    monkeypatch.setattr(outbox, "BULK_CHUNK", 2)
    events = _events(item, "accepted", "offered", "accepted", "offered", "accepted")

    outbox.outbox_bulk_create(events, stream=STREAM)

    kinds = dict(WorkItemEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("pk", "kind"))
    assert [kinds[event.pk] for event in events] == [event.kind for event in events]
    assert sorted(OutboxEntry.objects.filter(consumer="tests.accepted").values_list("ref_id", flat=True)) == [
        event.pk for event in events if event.kind == "accepted"]
    assert OutboxEntry.objects.filter(consumer="tests.everything").count() == 5


def test_a_consumers_kick_comes_once_after_the_commit_of_a_transaction_that_wrote_it_entries(
        item, django_capture_on_commit_callbacks):
    from django.db import transaction

    kicks: list[str] = []
    outbox.consumer_register(name="tests.kicked", stream=STREAM, handle=lambda ids: None,
                             wants=lambda event: event.kind == "accepted", kick=lambda: kicks.append("kick"))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                outbox.outbox_bulk_create(_events(item, "offered"), stream=STREAM)  # not wanted
                assert kicks == []
                outbox.outbox_bulk_create(_events(item, "accepted"), stream=STREAM)
                outbox.outbox_bulk_create(_events(item, "accepted", "accepted"), stream=STREAM)
                assert kicks == []  # not before the commit
        assert kicks == ["kick"]  # once for the transaction
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                outbox.outbox_bulk_create(_events(item, "offered"), stream=STREAM)
        assert kicks == ["kick"]  # nothing it wanted
    finally:
        outbox._consumers.pop("tests.kicked")
