"""Routing's history reaches the contacts' timelines through an outbox the copier drains:
an event whose transaction commits late still arrives, and nothing arrives twice.

Real PostgreSQL with committed transactions: a second connection (a thread) holds a routing
transaction open while later ones commit and are copied."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from conversations import tasks
from routing import services as routing
from routing.models import Queue
from tests.factories import ContactFactory, ConversationFactory
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
