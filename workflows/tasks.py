"""Celery tasks for workflows: thin and idempotent, each calling one service."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from supportdesk.redis import get_redis, redis_key
from workflows.models import RunStatus, WorkflowRun
from workflows.services import batch, runs, schedules, triggers

log = logging.getLogger(__name__)
# One drain asked for at a time: a kick while one is queued (and not started) adds nothing,
# as that drain will see what was committed before it. Lost with its task, the key expires.
TRIGGERS_KICK_WINDOW_MS = 2_000
TRIGGERS_DRAIN_MAX_SECONDS = 10.0
# Small batches first: each batch's runs are done when its transaction commits, so the
# first events of a burst are acted on without waiting for the whole burst. Through a
# backlog, batches grow (less per event) but only as far as takes about
# TRIGGERS_BATCH_SECONDS on this machine: an event waits for the batch before its own and its
# own, so a batch's time is a large part of the trigger-to-action latency.
TRIGGERS_KICK_BATCH = 100
TRIGGERS_MIN_BATCH = 50
TRIGGERS_BACKLOG_BATCH = 500
TRIGGERS_BATCH_SECONDS = 0.5
TIMERS_FIRE_BATCH = 500
TIMERS_FIRE_MAX_SECONDS = 10.0


@shared_task(name="workflows.tasks.run_advance", ignore_result=True)
def run_advance(run_id: int) -> str:
    """Do a run's next steps (idempotent: a run another worker holds is left to it)."""
    return runs.run_advance(run_id)


def run_advance_enqueue(run_id: int, *, countdown: float | None = None) -> None:
    """Queue a run (called after commit). Lost with the broker, the tick picks it up."""
    try:
        run_advance.apply_async((run_id,), countdown=countdown)
    except Exception:
        log.warning("Could not queue workflow run %s; the tick will", run_id, exc_info=True)


@shared_task(name="workflows.tasks.runs_advance_many", ignore_result=True)
def runs_advance_many(run_ids: list[int]) -> None:
    """Runs a batch per task (a schedule's, a drain's, the tick's due ones; idempotent):
    set-based where the steps allow, the rest one by one."""
    try:
        batch.runs_advance_batch(run_ids)
    except Exception:  # noqa: BLE001 (a deadlock's victim, say: the runs go one by one below)
        log.warning("Could not advance %s workflow runs set-based; one by one instead", len(run_ids),
                    exc_info=True)
    left = WorkflowRun.objects.filter(pk__in=run_ids, status__in=(RunStatus.RUNNING, RunStatus.WAITING)) \
        .order_by("pk").values_list("pk", flat=True)
    for run_id in left:
        runs.run_advance(run_id)


def runs_advance_many_enqueue(run_ids: list[int]) -> None:
    try:
        runs_advance_many.delay(run_ids)
    except Exception:
        log.warning("Could not queue %s workflow runs; the tick will", len(run_ids), exc_info=True)


def triggers_kick_key() -> str:
    return redis_key("workflows", "triggers", "kick")


@shared_task(name="workflows.tasks.triggers_drain", ignore_result=True)
def triggers_drain() -> int:
    """New timeline events and received messages to runs, now: asked for by their producer's
    commit (`triggers_kick`) rather than waiting for the next tick. The runs whose steps go
    set-based are done in this task; the others are queued (tasks per batch)."""
    try:
        get_redis().delete(triggers_kick_key())  # what commits from now on asks again
    except Exception:  # noqa: BLE001 (the key expires; the tick drains meanwhile)
        log.warning("Could not clear the workflow triggers' kick", exc_info=True)
    return _triggers_drain_for_a_while()


def _triggers_drain_for_a_while(*, batches: int | None = None) -> int:
    """Drain batch after batch (sized by `triggers_batch_next`) until none is left, for at
    most TRIGGERS_DRAIN_MAX_SECONDS (and `batches` batches); the events handled."""
    handled = done = 0
    deadline = time.monotonic() + TRIGGERS_DRAIN_MAX_SECONDS
    batch_size = TRIGGERS_KICK_BATCH
    while (began := time.monotonic()) < deadline and (batches is None or done < batches):
        drained = triggers.triggers_drain(batch_size=batch_size)
        handled += drained.handled
        done += 1
        if drained.handled + drained.failed == 0 or drained.failed:
            break
        batch_size = triggers_batch_next(batch_size, handled=drained.handled, seconds=time.monotonic() - began)
    return handled


def triggers_batch_next(batch_size: int, *, handled: int, seconds: float) -> int:
    """The next batch's size: back to TRIGGERS_KICK_BATCH after a short batch (no backlog);
    after a full one (a backlog), as many events as this one did in TRIGGERS_BATCH_SECONDS,
    between TRIGGERS_MIN_BATCH and TRIGGERS_BACKLOG_BATCH."""
    if handled < batch_size:
        return TRIGGERS_KICK_BATCH
    fitting = int(handled * TRIGGERS_BATCH_SECONDS / max(seconds, 1e-3))
    return max(TRIGGERS_MIN_BATCH, min(TRIGGERS_BACKLOG_BATCH, fitting))


def triggers_kick() -> None:
    """After a commit that wrote entries for the triggers: ask for a drain, unless one is
    asked for already. Never raises (the tick drains every second anyway)."""
    try:
        if get_redis().set(triggers_kick_key(), 1, nx=True, px=TRIGGERS_KICK_WINDOW_MS):
            triggers_drain.apply_async()
    except Exception:  # noqa: BLE001
        log.warning("Could not ask for a drain of the workflow triggers; the tick will", exc_info=True)


@shared_task(name="workflows.tasks.timers_fire", ignore_result=True)
def timers_fire() -> int:
    """Fire the due timers, batch after batch while a batch comes back full (for at most
    TIMERS_FIRE_MAX_SECONDS: then the tick goes on). Parallel-safe: each batch takes timers
    no other worker holds."""
    return _timers_fire_for_a_while()


def _timers_fire_for_a_while() -> int:
    fired = 0
    deadline = time.monotonic() + TIMERS_FIRE_MAX_SECONDS
    while time.monotonic() < deadline:
        handled = triggers.timers_fire(limit=TIMERS_FIRE_BATCH)
        fired += handled
        if handled < TIMERS_FIRE_BATCH:
            break
    return fired


def timers_fire_enqueue(*, countdown: float) -> None:
    """Fire timers at their second rather than at the next tick."""
    try:
        timers_fire.apply_async(countdown=countdown)
    except Exception:
        log.warning("Could not queue the workflow timers; the tick will", exc_info=True)


@shared_task(name="workflows.tasks.workflows_tick", ignore_result=True)
def workflows_tick(batches: int = 20) -> None:
    """Timeline events to runs, due timers, due schedules, and runs to resume: all safe to run
    in parallel and again (each takes rows no other worker holds)."""
    # Due timers first: they are late already, while new events have their drains asked for
    # by their producers' commits (this drain is the safety net).
    _timers_fire_for_a_while()
    _triggers_drain_for_a_while(batches=batches)
    schedules.schedules_fire()
    # Runs to resume go to the default queue, a task per batch: the tick (on its own queue)
    # stays short. The rest on the next tick.
    due = runs.runs_due(limit=100)
    for start in range(0, len(due), runs.ADVANCE_BATCH_SIZE):
        runs_advance_many_enqueue(due[start:start + runs.ADVANCE_BATCH_SIZE])


# The segments' and the outreach's tasks live in their own modules, which the worker's
# autodiscovery (workflows.tasks only) would not import: the beat's entries name them.
from workflows.outreach import tasks as _outreach_tasks  # noqa: E402,F401
from workflows.segments import tasks as _segments_tasks  # noqa: E402,F401
