"""The worker's side: the tick on the beat (every second), draining events into runs, firing
timers, resuming waits; tasks enqueued only after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from tests.workflows.conftest import late_order_for, order_delayed, unhappy_customer, workflow_published
from workflows import tasks
from workflows.models import RunStatus, WorkflowRun, WorkflowTimer

pytestmark = pytest.mark.django_db


def test_the_tick_is_on_the_beat_every_second() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["workflows-tick"]
    assert entry["task"] == tasks.workflows_tick.name
    assert 0 < entry["schedule"] <= 1


def test_the_tick_turns_events_into_runs_and_runs_are_queued_after_commit(
        oms, mailbox, django_capture_on_commit_callbacks, monkeypatch) -> None:
    queued = []
    monkeypatch.setattr(tasks, "run_advance_enqueue", lambda run_id, countdown=None: queued.append(run_id))
    workflow_published()
    order_delayed(late_order_for(unhappy_customer()))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.workflows_tick.apply()

    run = WorkflowRun.objects.get()
    assert queued == [run.pk] and run.status == RunStatus.RUNNING
    tasks.run_advance.apply(args=(run.pk,))
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and len(oms.rebates) == 1


def test_the_tick_fires_due_timers(oms, mailbox) -> None:
    workflow_published(trigger={"type": "timer", "kinds": ["order.delayed"], "minutes": 0.01}, limit=None)
    order_delayed(late_order_for(unhappy_customer()))
    tasks.workflows_tick.apply()
    timer = WorkflowTimer.objects.get()
    assert timer.due_at <= timezone.now() + timedelta(seconds=1)
    WorkflowTimer.objects.filter(pk=timer.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    tasks.workflows_tick.apply()
    assert not WorkflowTimer.objects.exists() and WorkflowRun.objects.count() == 1
