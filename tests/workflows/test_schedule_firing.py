"""A schedule's firing over many members: chunk by chunk, resumed after a crash, one firer per
workflow, the per-contact limit counted per chunk, the conditions evaluated in SQL as Python
would."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from supportdesk import advisory_locks
from tests.factories import ContactFactory
from tests.sessions import other_session
from tests.workflows.conftest import workflow_published
from workflows.models import RunStatus, Workflow, WorkflowRun
from workflows.services import batch, schedules, schedules_fire

pytestmark = pytest.mark.django_db

TAG = [{"action": "add_tags", "params": {"tags": ["reached"]}}]


@pytest.fixture
def members(monkeypatch):
    contacts = ContactFactory.create_batch(6)
    monkeypatch.setattr(schedules, "segment_member_ids", lambda segment_id: iter(c.pk for c in contacts))
    return contacts


def _schedule(**definition):
    definition.setdefault("conditions", {})
    definition.setdefault("limit", None)
    workflow, _ = workflow_published("sweep", trigger={"type": "schedule", "cron": "0 * * * *", "segment": 1},
                                     run_key="", steps=TAG, **definition)
    return Workflow.objects.get(pk=workflow.pk)


def test_a_firing_killed_mid_way_resumes_where_it_stopped(members, monkeypatch) -> None:
    monkeypatch.setattr(schedules, "CHUNK", 2)
    workflow = _schedule()
    due = workflow.next_fire_at
    real_apply, calls = batch.batch_apply, []

    def dying_apply(cursor, version, rows, *, now):  # the worker dies in the second chunk
        calls.append(rows)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return real_apply(cursor, version, rows, now=now)

    monkeypatch.setattr(schedules, "batch_apply", dying_apply)
    with pytest.raises(RuntimeError):
        schedules_fire(now=due)
    # The first chunk is in; the firing is still due (its next time did not move).
    assert WorkflowRun.objects.count() == 2
    assert Workflow.objects.get(pk=workflow.pk).next_fire_at == due

    monkeypatch.setattr(schedules, "batch_apply", real_apply)
    assert schedules_fire(now=due) == 4  # the rest, not the first chunk again
    runs = WorkflowRun.objects.filter(workflow=workflow)
    assert sorted(runs.values_list("contact_id", flat=True)) == sorted(c.pk for c in members)
    assert set(runs.values_list("status", flat=True)) == {RunStatus.DONE}
    for contact in members:
        contact.refresh_from_db()
        assert contact.tags.count("reached") == 1
    assert Workflow.objects.get(pk=workflow.pk).next_fire_at == due + timedelta(hours=1)
    assert schedules_fire(now=due) == 0


def test_a_workflow_another_worker_is_firing_is_left_to_it(members) -> None:
    workflow = _schedule()
    due = workflow.next_fire_at
    with other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)",
                      [advisory_locks.SCHEDULE_FIRING, advisory_locks.pair_id(workflow.pk)])
        assert schedules_fire(now=due) == 0  # and it returns: no waiting, no loop
        assert not WorkflowRun.objects.exists()
    assert schedules_fire(now=due) == len(members)


def test_the_limit_counts_each_contact_once_per_chunk(members, monkeypatch) -> None:
    monkeypatch.setattr(schedules, "CHUNK", 4)
    workflow = _schedule(limit={"count": 2, "days": 7})
    version = workflow.current_version
    due = workflow.next_fire_at
    # Two earlier firings reached the first two members, one the third.
    for hours, reached in ((-2, members[:3]), (-1, members[:2])):
        schedules.schedule_runs_create(workflow=workflow, version=version, fired_at=due + timedelta(hours=hours),
                                       member_ids=[c.pk for c in reached])
    assert schedules_fire(now=due) == len(members)
    fired = {run.contact_id: run for run in WorkflowRun.objects.filter(trigger__fired_at=due.isoformat())}
    assert {cid for cid, run in fired.items() if run.status == RunStatus.SKIPPED} == {members[0].pk, members[1].pk}
    assert all(fired[c.pk].status == RunStatus.DONE for c in members[2:])
    assert "limit" in fired[members[0].pk].summary and fired[members[0].pk].finished_at is not None


CONDITIONS = [
    {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300},
    {"any": [{"attribute": "contact.last_rating", "op": "lte", "value": 2},
             {"attribute": "contact.tags", "op": "contains", "value": "VIP"}]},
    {"all": [{"attribute": "contact.language", "op": "in", "value": ["es", "CA"]},
             {"attribute": "contact.last_rating", "op": "ne", "value": 5}]},
    {"attribute": "contact.attributes.plan", "op": "eq", "value": "gold"},
]


@pytest.mark.parametrize("conditions", CONDITIONS)
def test_conditions_in_sql_pick_whom_python_picks(monkeypatch, conditions) -> None:
    contacts = []
    for number in range(12):
        contacts.append(ContactFactory(
            lifetime_order_value=Decimal(100 * number), last_rating=None if number % 4 == 0 else 1 + number % 5,
            tags=["vip"] if number % 3 == 0 else [], preferred_language=["es", "ca", "en"][number % 3],
            attributes={"plan": "Gold"} if number % 5 == 0 else {}))
    ids = [c.pk for c in contacts]
    workflow = _schedule(conditions=conditions)
    version, due = workflow.current_version, workflow.next_fire_at

    def picked(fired_at) -> set[int]:
        schedules.schedule_runs_create(workflow=workflow, version=version, fired_at=fired_at, member_ids=ids)
        return set(WorkflowRun.objects.filter(trigger__fired_at=fired_at.isoformat())
                   .values_list("contact_id", flat=True))

    real = schedules._conditions_sql
    in_sql = []
    monkeypatch.setattr(schedules, "_conditions_sql", lambda *a, **k: in_sql.append(1) or real(*a, **k))
    by_sql = picked(due)
    assert in_sql and real(version, ids, now=due) is not None  # the SQL path was taken
    monkeypatch.setattr(schedules, "_conditions_sql", lambda *a, **k: None)  # Python's evaluation
    by_python = picked(due + timedelta(hours=1))
    assert by_sql == by_python
    assert 0 < len(by_sql) < len(ids)


@pytest.mark.django_db(transaction=True)
def test_chunks_fired_in_parallel_threads_start_each_members_run_once(monkeypatch, settings) -> None:
    import threading

    contacts = ContactFactory.create_batch(11)
    monkeypatch.setattr(schedules, "segment_member_ids", lambda segment_id: iter(c.pk for c in contacts))
    monkeypatch.setattr(schedules, "CHUNK", 2)
    settings.WORKFLOWS_SCHEDULE_WORKERS = 3
    workflow = _schedule()
    due = workflow.next_fire_at
    threads, real_apply = set(), batch.batch_apply

    def noting_apply(cursor, version, rows, *, now):
        threads.add(threading.current_thread().name)
        return real_apply(cursor, version, rows, now=now)

    monkeypatch.setattr(schedules, "batch_apply", noting_apply)
    assert schedules_fire(now=due) == 11
    # Chunks went to the pool's threads (not this one), each with its connection closed after.
    assert threads and all(name.startswith("schedule") for name in threads)
    runs = WorkflowRun.objects.filter(workflow=workflow)
    assert sorted(runs.values_list("contact_id", flat=True)) == sorted(c.pk for c in contacts)
    assert set(runs.values_list("status", flat=True)) == {RunStatus.DONE}
    for contact in contacts:
        contact.refresh_from_db()
        assert contact.tags.count("reached") == 1
    assert schedules_fire(now=due) == 0  # fired once: the next time moved on
