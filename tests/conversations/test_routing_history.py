"""Routing's history reaches the contacts' timelines through an outbox the copier drains:
an event whose transaction commits late still arrives, and nothing arrives twice.

Real PostgreSQL with committed transactions: a second connection (a thread) holds a routing
transaction open while later ones commit and are copied."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from conversations import tasks
from conversations.routing_history import (
    ROUTING_HISTORY,
    routing_history_apply,
    routing_history_copy,
    routing_history_register,
)
from routing import services as routing
from routing.models import HISTORY_STREAM, Queue, WorkItemEvent
from supportdesk import outbox
from supportdesk.models import OutboxEntry
from tests.factories import ContactFactory, ConversationFactory
from timeline.events import ROUTING_KINDS
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 60  # seconds a step may take before the test gives up (a hang, not a threshold)


def _conversation(name: str):
    contact = ContactFactory(name=name, preferred_language="es")
    return ConversationFactory(contact=contact, channel="chat")


def _enqueue(conversation) -> None:
    routing.work_item_enqueue(conversation_id=conversation.pk, channel="chat",
                              attributes={"language": "es", "contact_kind": "customer"})


def _routing_kinds(conversation) -> list[str]:
    return list(TimelineEvent.objects.filter(subject_type="conversation", subject_id=conversation.pk,
                                             kind__startswith="routing.")
                .order_by("id").values_list("kind", flat=True))


def test_an_event_committed_after_a_long_open_transaction_reaches_the_timeline(monkeypatch):
    # given a routing transaction that took its event id and stays open on another connection
    Queue.objects.create(key="general", name="General")
    slow, early, later = (_conversation(name) for name in ("Slow", "Early", "Later"))
    written, release, failures = threading.Event(), threading.Event(), []

    def slow_transaction() -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                _enqueue(slow)
                written.set()
                assert release.wait(WAIT)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert written.wait(WAIT)

    # when newer routing events commit and are copied, for longer than the old copier kept gaps
    _enqueue(early)
    tasks.routing_history_to_timeline()
    eleven_minutes_on = timezone.now() + timedelta(minutes=11)
    monkeypatch.setattr(timezone, "now", lambda: eleven_minutes_on)
    _enqueue(later)
    tasks.routing_history_to_timeline()
    # ... and then the slow transaction commits, and the copier runs again
    release.set()
    thread.join(WAIT)
    assert not thread.is_alive() and failures == []
    tasks.routing_history_to_timeline()

    # then every conversation's history is on its contact's timeline, once
    assert _routing_kinds(early) == ["routing.queued"]
    assert _routing_kinds(later) == ["routing.queued"]
    assert _routing_kinds(slow) == ["routing.queued"]


@contextmanager
def _copier_wrapped(wrapper: Callable[[list[int]], None]) -> Iterator[None]:
    """Run the copier through `wrapper` (which calls routing_history_apply or fails)."""
    outbox.consumer_register(name=ROUTING_HISTORY, stream=HISTORY_STREAM, handle=wrapper,
                             wants=lambda event: event.kind in ROUTING_KINDS)
    try:
        yield
    finally:
        routing_history_register()


def _pending() -> list[OutboxEntry]:
    return list(OutboxEntry.objects.filter(consumer=ROUTING_HISTORY).order_by("id"))


def test_two_drainers_in_parallel_never_copy_an_event_twice():
    # given five conversations' routing history waiting in the outbox
    Queue.objects.create(key="general", name="General")
    conversations = [_conversation(f"Contact {n}") for n in range(5)]
    for conversation in conversations:
        _enqueue(conversation)
    assert len(_pending()) == 5
    holding, release, failures, first_drained = threading.Event(), threading.Event(), [], []

    def hold_after_copying(event_ids: list[int]) -> None:
        routing_history_apply(event_ids)
        if threading.current_thread().name == "first-drainer":
            holding.set()
            assert release.wait(WAIT)

    def first_drainer() -> None:
        try:
            first_drained.append(routing_history_copy(batch_size=2))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    with _copier_wrapped(hold_after_copying):
        # when one drainer holds its batch of two, copied but not committed, and another
        # drains meanwhile, and then the first commits
        thread = threading.Thread(target=first_drainer, name="first-drainer")
        thread.start()
        assert holding.wait(WAIT)
        second = routing_history_copy(batch_size=10)
        again = routing_history_copy(batch_size=10)
        release.set()
        thread.join(WAIT)
    assert not thread.is_alive() and failures == []

    # then the second took the three others without waiting, and each event arrived once
    assert (first_drained[0].handled, second.handled, again.handled) == (2, 3, 0)
    assert [_routing_kinds(conversation) for conversation in conversations] == [["routing.queued"]] * 5
    assert _pending() == []


class _Crash(BaseException):
    """A worker killed mid-batch (not an error the drain catches and counts)."""


def test_a_crash_mid_batch_loses_nothing_and_copies_nothing_twice():
    # given three conversations' history waiting
    Queue.objects.create(key="general", name="General")
    conversations = [_conversation(f"Contact {n}") for n in range(3)]
    for conversation in conversations:
        _enqueue(conversation)

    def crash_after_copying(event_ids: list[int]) -> None:
        routing_history_apply(event_ids)  # the timeline rows are written ...
        raise _Crash  # ... and the worker dies before the transaction commits

    # when a drain crashes after writing its copies, and a later drain runs
    with _copier_wrapped(crash_after_copying), pytest.raises(_Crash):
        tasks.routing_history_to_timeline()
    after_crash = ([_routing_kinds(conversation) for conversation in conversations],
                   [entry.attempts for entry in _pending()])
    tasks.routing_history_to_timeline()

    # then the crash left nothing half done, and the next drain copied each event once
    assert after_crash == ([[], [], []], [0, 0, 0])
    assert [_routing_kinds(conversation) for conversation in conversations] == [["routing.queued"]] * 3
    assert _pending() == []


def test_a_poison_event_is_parked_and_the_rest_flow(settings):
    # given three conversations' history waiting, the middle one's handling always failing
    settings.OUTBOX_MAX_ATTEMPTS = 2
    Queue.objects.create(key="general", name="General")
    first, poisoned, last = (_conversation(name) for name in ("First", "Poisoned", "Last"))
    for conversation in (first, poisoned, last):
        _enqueue(conversation)
    poison_id = WorkItemEvent.objects.get(item__conversation_id=poisoned.pk, kind="queued").pk

    def fail_on_poison(event_ids: list[int]) -> None:
        routing_history_apply(event_ids)
        if poison_id in event_ids:
            raise ValueError("cannot copy this one")

    # when the copier runs, more history arrives, and it runs twice more
    with _copier_wrapped(fail_on_poison):
        copied = [tasks.routing_history_to_timeline()]
        once = _pending()
        _enqueue(later := _conversation("Later"))
        copied += [tasks.routing_history_to_timeline(), tasks.routing_history_to_timeline()]

    # then the others were copied at once and the later one on the next run; the poisoned
    # event was tried alone, counted, and parked with its error after the second failure
    assert copied == [2, 1, 0]
    assert [(entry.ref_id, entry.attempts, entry.parked_at) for entry in once] == [(poison_id, 1, None)]
    for conversation in (first, last, later):
        assert _routing_kinds(conversation) == ["routing.queued"]
    assert _routing_kinds(poisoned) == []
    [parked] = _pending()
    assert (parked.ref_id, parked.attempts, parked.parked_at is not None) == (poison_id, 2, True)
    assert parked.last_error == "ValueError: cannot copy this one"

    # and once the cause is fixed, a retry puts it back and it is copied
    assert outbox.outbox_retry(entry_ids=[parked.pk]) == 1
    assert tasks.routing_history_to_timeline() == 1
    assert _routing_kinds(poisoned) == ["routing.queued"]
    assert _pending() == []
