"""The worker's side: the tick on the beat (every second), draining events into runs, firing
timers, resuming waits; tasks enqueued only after commit."""

from __future__ import annotations

import contextlib
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


def test_the_tick_turns_events_into_runs_and_runs_are_queued_in_batches_after_commit(
        oms, mailbox, django_capture_on_commit_callbacks, monkeypatch) -> None:
    queued = []
    monkeypatch.setattr(tasks, "runs_advance_many_enqueue", lambda run_ids: queued.append(run_ids))
    workflow_published()
    order_delayed(late_order_for(unhappy_customer()))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.workflows_tick.apply()

    run = WorkflowRun.objects.get()
    assert queued == [[run.pk]] and run.status == RunStatus.RUNNING  # one task per batch of runs
    tasks.runs_advance_many.apply(args=([run.pk],))
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


def test_a_drain_of_many_events_does_set_based_runs_at_once_and_queues_one_task_per_batch_of_the_rest(
        oms, mailbox, django_capture_on_commit_callbacks, monkeypatch) -> None:
    from workflows.services import runs

    queued = []
    monkeypatch.setattr(tasks, "runs_advance_many_enqueue", lambda run_ids: queued.append(run_ids))
    monkeypatch.setattr(tasks, "run_advance_enqueue", lambda run_id, countdown=None: queued.append(run_id))
    rebate, _ = workflow_published(limit=None, steps=[{"action": "add_tags", "params": {"tags": ["sorry"]}},
                                                      {"action": "oms_rebate", "params": {"amount": "1.00"}}])
    tagger, _ = workflow_published("tagger", limit=None,
                                   steps=[{"action": "add_tags", "params": {"tags": ["late"]}}])
    count = runs.ADVANCE_BATCH_SIZE + 5
    for _ in range(count // 2 + 1):
        order_delayed(late_order_for(unhappy_customer()))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.workflows_tick.apply()

    started = list(WorkflowRun.objects.order_by("pk").values_list("pk", flat=True))
    outside = list(WorkflowRun.objects.filter(workflow=rebate).order_by("pk").values_list("pk", flat=True))
    assert len(started) > runs.ADVANCE_BATCH_SIZE and len(outside) == len(started) // 2
    # The tagger's runs were done right after the drain's commit, set-based, in the drain's task
    assert set(WorkflowRun.objects.filter(workflow=tagger).values_list("status", flat=True)) == {RunStatus.DONE}
    # and the others did their step inside the desk (the tag) there too, and stopped before the
    # step outside (the OMS call), which went to tasks, one per batch, not one per run
    assert set(WorkflowRun.objects.filter(workflow=rebate).values_list("status", "position")) == {
        (RunStatus.RUNNING, 1)}
    assert not oms.calls
    assert all(isinstance(batch, list) for batch in queued), "no task per run"
    assert [run_id for batch in queued for run_id in batch] == outside
    assert len(queued) == -(-len(outside) // runs.ADVANCE_BATCH_SIZE)
    for batch in queued:
        tasks.runs_advance_many.apply(args=(batch,))
        tasks.runs_advance_many.apply(args=(batch,))  # redelivered: nothing twice
    assert set(WorkflowRun.objects.values_list("status", flat=True)) == {RunStatus.DONE}
    assert len(oms.calls) == len(set(oms.calls)) == len(outside)
    assert WorkflowRun.objects.filter(workflow=tagger).count() == len(started) - len(outside)


def test_the_ticks_have_a_queue_of_their_own_that_the_worker_consumes(settings) -> None:
    from supportdesk.celery import app

    ticks = settings.WORKER_TICKS_QUEUE
    assert ticks != settings.CELERY_TASK_DEFAULT_QUEUE and ticks.startswith(settings.CELERY_TASK_DEFAULT_QUEUE)
    for name in ("workflows.tasks.workflows_tick", "workflows.tasks.timers_fire",
                 "workflows.segments.tasks.segments_membership_drain"):
        assert app.amqp.router.route({}, name)["queue"].name == ticks
    assert app.amqp.router.route({}, "workflows.tasks.runs_advance_many")["queue"].name == \
        settings.CELERY_TASK_DEFAULT_QUEUE
    assert {queue.name for queue in app.amqp.queues.values()} == {settings.CELERY_TASK_DEFAULT_QUEUE, ticks}


def test_a_kicked_drain_starts_with_small_batches_and_takes_larger_ones_through_a_backlog(monkeypatch) -> None:
    from supportdesk.outbox import Drained

    clock = [0.0]
    # (events handled, seconds the batch took) for each batch asked for.
    batches = iter([(100, 0.05), (500, 0.25), (500, 1.0), (250, 0.5), (120, 0.2), (0, 0.0)])
    sizes = []

    def drain(*, batch_size: int) -> Drained:
        sizes.append(batch_size)
        handled, seconds = next(batches)
        clock[0] += seconds
        return Drained(handled=handled)

    monkeypatch.setattr(tasks.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(tasks.triggers, "triggers_drain", drain)
    assert tasks.triggers_drain.apply().get() == 1_470
    # Full batches mean a backlog: larger batches, as large as fit in TRIGGERS_BATCH_SECONDS
    # (capped), until a batch comes back short, then small again.
    assert sizes == [100, 500, 500, 250, 250, 100]


@pytest.mark.parametrize(("batch_size", "handled", "seconds", "expected"), [
    (100, 40, 0.01, 100),  # short: no backlog
    (100, 100, 0.01, 500),  # fast: the cap
    (500, 500, 5.0, 50),  # very slow: the floor
    (200, 200, 0.8, 125),  # as many as take half a second
])
def test_the_next_batch_of_a_drain_fits_the_time_a_batch_may_take(batch_size, handled, seconds, expected) -> None:
    assert tasks.TRIGGERS_BATCH_SECONDS == 0.5
    assert tasks.triggers_batch_next(batch_size, handled=handled, seconds=seconds) == expected


@pytest.mark.parametrize("set_based", [True, False], ids=["set-based", "one-by-one"])
def test_the_steps_inside_before_an_oms_call_go_set_based_with_the_records_of_the_one_by_one_path(
        oms, mailbox, django_capture_on_commit_callbacks, monkeypatch, set_based) -> None:
    from timeline.models import TimelineEvent
    from workflows.models import WorkflowRunStep
    from workflows.services import batch, runs

    queued, one_by_one = [], []
    monkeypatch.setattr(tasks, "runs_advance_many_enqueue", lambda run_ids: queued.append(run_ids))
    real_advance = runs.run_advance
    monkeypatch.setattr(runs, "run_advance", lambda run_id, **kwargs: one_by_one.append(run_id) or real_advance(
        run_id, **kwargs))
    if not set_based:
        monkeypatch.setattr(batch, "batchable_prefix", lambda version: 0)
    workflow, _ = workflow_published(limit=None, steps=[
        {"action": "add_tags", "params": {"tags": ["sorry"]}},
        {"action": "set_contact_attribute", "params": {"name": "apology", "value": "rebate"}},
        {"action": "oms_rebate", "params": {"amount": "1.00"}}])
    customers = [unhappy_customer(name=name) for name in ("Ana", "Eva", "Ida")]
    for contact in customers:
        order_delayed(late_order_for(contact))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.triggers_drain.apply()

    # The tag and the attribute are done as the drain commits, in it; the OMS call is left to a task.
    assert set(WorkflowRun.objects.values_list("status", "position")) == {(RunStatus.RUNNING, 2)}
    started = list(WorkflowRun.objects.order_by("pk").values_list("pk", flat=True))
    assert one_by_one == ([] if set_based else started)
    assert not oms.calls and not TimelineEvent.objects.filter(kind="workflow.run").exists()
    for run_ids in queued:
        tasks.runs_advance_many.apply(args=(run_ids,))
        tasks.runs_advance_many.apply(args=(run_ids,))  # redelivered: nothing twice

    runs_done = WorkflowRun.objects.order_by("pk")
    assert {(run.status, run.summary) for run in runs_done} == {
        (RunStatus.DONE, f"tagged sorry; set apology to rebate; {runs_done[0].summary.split('; ', 2)[2]}")}
    assert "rebate" in runs_done[0].summary.split("; ", 2)[2].lower() and len(oms.rebates) == 3
    assert list(WorkflowRunStep.objects.filter(run=runs_done[0]).order_by("position").values_list(
        "position", "action", "status", "attempts")) == [
        (0, "add_tags", "done", 1), (1, "set_contact_attribute", "done", 1), (2, "oms_rebate", "done", 1)]
    for contact in customers:
        contact.refresh_from_db()
        assert "sorry" in contact.tags and contact.attributes["apology"] == "rebate"
        assert TimelineEvent.objects.filter(kind="contact.updated", contact=contact,
                                            actor__startswith=f"workflow:{workflow.pk}:").count() == 2
        assert TimelineEvent.objects.filter(kind="workflow.run", contact=contact).count() == 1


def test_the_timers_task_fires_batch_after_batch_while_they_come_back_full(monkeypatch) -> None:
    handed, limits = iter([tasks.TIMERS_FIRE_BATCH, tasks.TIMERS_FIRE_BATCH, 7, 99]), []

    def fire(*, limit: int) -> int:
        limits.append(limit)
        return next(handed)

    monkeypatch.setattr(tasks.triggers, "timers_fire", fire)
    assert tasks.timers_fire.apply().get() == 2 * tasks.TIMERS_FIRE_BATCH + 7
    assert limits == [tasks.TIMERS_FIRE_BATCH] * 3


def test_the_tick_fires_timers_already_late_before_draining_new_events(monkeypatch) -> None:
    from supportdesk.outbox import Drained

    done, due = [], iter([tasks.TIMERS_FIRE_BATCH, 3])
    monkeypatch.setattr(tasks.triggers, "timers_fire", lambda *, limit: done.append("timers") or next(due))
    monkeypatch.setattr(tasks.triggers, "triggers_drain",
                        lambda **kwargs: done.append("events") or Drained(handled=0))
    monkeypatch.setattr(tasks.schedules, "schedules_fire", lambda: None)
    tasks.workflows_tick.apply()
    assert done == ["timers", "timers", "events"]


def test_workflows_are_behind_with_more_events_waiting_or_timers_past_due_than_the_limit(
        settings, mailbox) -> None:
    from supportdesk import backpressure
    from workflows.services import triggers

    settings.WORKFLOWS_BACKLOG_LIMIT = 2
    workflow_published(limit=None)
    timer, _ = workflow_published("later", limit=None, trigger={"type": "timer", "kinds": ["order.delayed"],
                                                                "minutes": 60})
    for name in ("Ana", "Eva"):
        order_delayed(late_order_for(unhappy_customer(name=name)))
    assert not triggers.triggers_behind()
    order_delayed(late_order_for(unhappy_customer(name="Ida")))
    assert triggers.triggers_behind() and "workflows.triggers" in backpressure.behind()

    triggers.triggers_drain()  # the events drained, their timers armed an hour ahead
    assert WorkflowTimer.objects.count() == 3 and not triggers.triggers_behind()
    WorkflowTimer.objects.update(due_at=timezone.now() - timedelta(seconds=1))
    assert triggers.triggers_behind()
    triggers.timers_fire()
    assert not triggers.triggers_behind()


def test_a_run_the_one_by_one_path_has_tried_is_left_to_it_by_the_set_based_batch(
        oms, mailbox, monkeypatch) -> None:
    from workflows.models import WorkflowRunStep
    from workflows.services import batch

    workflow_published(limit=None, steps=[{"action": "add_tags", "params": {"tags": ["sorry"]}},
                                          {"action": "oms_rebate", "params": {"amount": "1.00"}}])
    order_delayed(late_order_for(unhappy_customer()))
    monkeypatch.setattr(tasks.triggers, "runs_advance_batched", contextlib.nullcontext)
    tasks.triggers.triggers_drain()
    run = WorkflowRun.objects.get()
    # Its first step failed once one by one (a step row, a back-off): the batch must not insert
    # that step again (it would break the task for every run with it), nor claim it.
    WorkflowRunStep.objects.create(run=run, position=0, action="add_tags", status="failed",
                                   idempotency_key="wf:tried:0", started_at=timezone.now())
    WorkflowRun.objects.filter(pk=run.pk).update(attempts=1, resume_at=timezone.now() + timedelta(seconds=2))
    assert batch.runs_advance_batch([run.pk]) == 0
    run.refresh_from_db()
    assert (run.status, run.position, run.attempts) == (RunStatus.RUNNING, 0, 1)
    WorkflowRun.objects.filter(pk=run.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    tasks.runs_advance_many.apply(args=([run.pk],))
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and len(oms.rebates) == 1
