"""What a routing decision sends to PostgreSQL: its statements are its round trips, and a
decision runs for every conversation that needs an agent (tests/bench/profiling.py lists them)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from routing import services
from routing.models import ItemState
from tests.routing.test_services import chat_es, enqueue, online_agent  # noqa: F401  (chat_es: the tests' fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("chat_es")
def test_a_decision_reads_the_slots_locks_the_agent_and_counts_their_room_in_one_round_trip():
    agent = online_agent()
    services.routing_config(fresh=True)  # the rules and queues read now (a process reads them now and then)

    with CaptureQueriesContext(connection) as sent:
        item = enqueue(1)

    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk
    # (the test's own transaction turns the decision's BEGIN and COMMIT into savepoints)
    statements = [query["sql"] for query in sent.captured_queries
                  if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    # the latest item of the conversation, the new item, the match (slots, lock, room), the
    # claim, the history: five, where the slot read and the lock were two more
    assert len(statements) == 5, "\n".join(statement[:120] for statement in statements)
    match = statements[2]
    assert "routing_agentslot" in match and "FOR UPDATE OF agent SKIP LOCKED" in match
    assert item.events.filter(kind="offered", agent_id=agent.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("chat_es")
def test_a_candidate_another_worker_holds_is_skipped_for_the_next_best():
    # The match locks the best free candidate with SKIP LOCKED: one held elsewhere is passed
    # over in the same round trip, not waited for.
    busy, free = online_agent(), online_agent()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE routing_agentslot SET last_assigned_at = NULL WHERE agent_id = %s", [busy.pk])
        cursor.execute("UPDATE routing_agentslot SET last_assigned_at = now() WHERE agent_id = %s", [free.pk])

    locked, release = threading.Event(), threading.Event()

    def hold_busy() -> None:
        try:
            with transaction.atomic():
                with connections["default"].cursor() as cursor:
                    cursor.execute("SELECT id FROM routing_agentprofile WHERE id = %s FOR UPDATE", [busy.pk])
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_busy)
    holder.start()
    try:
        assert locked.wait(30)
        item = enqueue(2)
    finally:
        release.set()
        holder.join(30)

    assert item.state == ItemState.OFFERED and item.agent_id == free.pk
