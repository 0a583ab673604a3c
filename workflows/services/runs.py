"""Runs: start one (exactly once per run key, within the per-contact limit), advance it step
by step, finish it on the timeline, retry it when it failed.

One module (just over 500 lines) because starting, advancing and retrying share the run's
claim, lease and step-key rules below; the set-based path lives apart (services.batch).

Exactly once, step by step. A step's idempotency key is derived from the workflow, the run
key and the step's position, so every attempt at a step carries the same key.

- A step that only writes rows (tags, attributes, a task) runs in one transaction with the
  step's "done" and the run's next position: a kill anywhere rolls all of it back, and the
  retry does it once.
- A step that reaches outside (OMS rebate, email, outbound URL) commits "started" and a
  lease on the run first, then calls out with its key, then commits "done". Killed before
  the call: the retry calls once. Killed after the call, before "done": the retry calls
  again with the same key and the far side answers with the first result (the OMS's
  Idempotency-Key, the email's Message-ID). Killed after "done": the step is never called
  again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from supportdesk import advisory_locks
from supportdesk.db import pg_int_array, pg_text_array
from timeline import events
from workflows import registry
from workflows.definitions import run_key_render
from workflows.models import RunStatus, StepStatus, Workflow, WorkflowRun, WorkflowRunStep, WorkflowVersion
from workflows.subjects import Subject, subject_load, subject_variables

log = logging.getLogger(__name__)

FINISHED = (RunStatus.DONE, RunStatus.STOPPED, RunStatus.SKIPPED, RunStatus.FAILED)
# Runs that count against the per-contact limit: all but those skipped or failed.
COUNTED = (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.DONE, RunStatus.STOPPED)
ACTOR_PREFIX = "workflow:"


def run_actor(run: WorkflowRun) -> str:
    """Who acted, on the timeline: "workflow:<workflow id>:<run id>" (the loop guard reads it)."""
    return f"{ACTOR_PREFIX}{run.workflow_id}:{run.pk}"


def actor_run_id(actor: str) -> int | None:
    """The run id in an actor string written by `run_actor`, or None."""
    if not actor.startswith(ACTOR_PREFIX):
        return None
    tail = actor.removeprefix(ACTOR_PREFIX).rpartition(":")[2]
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) < 19 else None


def step_key(run: WorkflowRun, position: int) -> str:
    key = f"wf:{run.workflow_id}:{run.run_key}:{position}"
    if len(key) <= 200:
        return key
    return f"wf:{run.workflow_id}:{hashlib.sha256(key.encode()).hexdigest()}:{position}"


# --- Starting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    run: WorkflowRun | None  # None: the run key was used already
    skipped_by_limit: bool = False


def run_start(*, workflow: Workflow, version: WorkflowVersion, subject: Subject, trigger: dict[str, Any],
              chain: list[int], trigger_event_id: int | None = None, fired: str = "",
              message_id: int | None = None, now: datetime | None = None) -> Started:
    """Start a run of `version` for this subject, once per run key; within the per-contact
    limit, else recorded as skipped. Must run inside a transaction (the trigger's); the run is
    advanced after commit."""
    now = now or timezone.now()
    key = run_key_render(version.run_key, workflow_id=workflow.pk, contact_id=subject.contact.pk,
                         subject_type=subject.subject_type, subject_id=subject.subject_id, fired=fired,
                         event=trigger_event_id, message=message_id)
    if WorkflowRun.objects.filter(workflow=workflow, run_key=key).exists():
        return Started(run=None)
    status = RunStatus.RUNNING
    if version.limit_count and version.limit_days:
        # One decision at a time per workflow and contact, so two triggers cannot both fit.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           [advisory_locks.WORKFLOW_LIMIT_PER_CONTACT, advisory_locks.pair_id(subject.contact.pk)])
        recent = WorkflowRun.objects.filter(
            workflow=workflow, contact=subject.contact, status__in=COUNTED,
            created_at__gte=now - timedelta(days=version.limit_days)).count()
        if recent >= version.limit_count:
            status = RunStatus.SKIPPED
    try:
        with transaction.atomic():
            run = WorkflowRun.objects.create(
                workflow=workflow, version=version, contact=subject.contact,
                subject_type=subject.subject_type, subject_id=subject.subject_id, run_key=key,
                status=status, trigger=trigger, trigger_event_id=trigger_event_id, chain=chain,
                finished_at=now if status == RunStatus.SKIPPED else None,
                summary=_("Skipped: the contact reached the limit of %(count)s in %(days)s days.")
                % {"count": version.limit_count, "days": version.limit_days}
                if status == RunStatus.SKIPPED else "",
            )
    except IntegrityError:
        return Started(run=None)  # the same key, started a moment ago by another worker
    if status == RunStatus.RUNNING:
        _advance_after_commit([run.pk])
    return Started(run=run, skipped_by_limit=status == RunStatus.SKIPPED)


class RunStarts:
    """Runs to start, collected over a drain's batch and inserted in one statement (`flush`):
    what `run_start` does one at a time, for versions without a per-contact limit (the others
    are started at once by `run_start`, as their limit is decided under a lock). Exactly
    once per run key as there: ON CONFLICT DO NOTHING, and the first of a batch's repeats."""

    def __init__(self) -> None:
        self.runs: dict[tuple[int, str], WorkflowRun] = {}

    def add(self, *, workflow: Workflow, version: WorkflowVersion, subject: Subject, trigger: dict[str, Any],
            chain: list[int], trigger_event_id: int | None = None, now: datetime | None = None) -> None:
        if version.limit_count and version.limit_days:
            run_start(workflow=workflow, version=version, subject=subject, trigger=trigger, chain=chain,
                      trigger_event_id=trigger_event_id, now=now)
            return
        key = run_key_render(version.run_key, workflow_id=workflow.pk, contact_id=subject.contact.pk,
                             subject_type=subject.subject_type, subject_id=subject.subject_id, fired="",
                             event=trigger_event_id, message=None)
        self.runs.setdefault((workflow.pk, key), WorkflowRun(
            workflow=workflow, version=version, contact=subject.contact, subject_type=subject.subject_type,
            subject_id=subject.subject_id, run_key=key, status=RunStatus.RUNNING, trigger=trigger,
            trigger_event_id=trigger_event_id, chain=chain))

    def flush(self) -> list[int]:
        """Insert the runs collected (in the caller's transaction); the ids of those started,
        advanced after commit like `run_start`'s."""
        runs = list(self.runs.values())
        self.runs = {}
        if not runs:
            return []
        # Column arrays, unnested: a short statement whatever the batch's size (psycopg parses
        # a statement of thousands of placeholders slowly).
        with connection.cursor() as cursor:
            cursor.execute(f"""
                INSERT INTO {connection.ops.quote_name(WorkflowRun._meta.db_table)}
                       (workflow_id, version_id, contact_id, subject_type, subject_id, run_key, status, trigger,
                        trigger_event_id, chain, position, attempts, error, summary, created_at, updated_at)
                SELECT r.workflow_id, r.version_id, r.contact_id, r.subject_type, r.subject_id, r.run_key,
                       %s, r.trigger::jsonb, r.trigger_event_id, r.chain::integer[], 0, 0, '', '', now(), now()
                  FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::text[],
                              %s::text[], %s::bigint[], %s::text[])
                       AS r(workflow_id, version_id, contact_id, subject_type, subject_id, run_key, trigger,
                            trigger_event_id, chain)
                ON CONFLICT (workflow_id, run_key) DO NOTHING
                RETURNING id""", [
                # The arrays as literals: psycopg's lists cost far more in Python.
                RunStatus.RUNNING, pg_int_array([run.workflow_id for run in runs]),
                pg_int_array([run.version_id for run in runs]), pg_int_array([run.contact_id for run in runs]),
                pg_text_array([run.subject_type for run in runs]), pg_int_array([run.subject_id for run in runs]),
                pg_text_array([run.run_key for run in runs]),
                pg_text_array([json.dumps(run.trigger, cls=DjangoJSONEncoder) for run in runs]),
                pg_int_array([run.trigger_event_id for run in runs]),
                pg_text_array([pg_int_array(run.chain) for run in runs])])
            started = sorted(run_id for (run_id,) in cursor.fetchall())
        _advance_after_commit(started)
        return started


_batched = threading.local()
ADVANCE_BATCH_SIZE = 50


@contextmanager
def runs_advance_batched(*, size: int = ADVANCE_BATCH_SIZE) -> Iterator[None]:
    """Runs started inside (in the caller's transaction) are advanced after commit, right
    there in the caller's process (`runs_advance_now`: a trigger's action follows its event
    with no queue between them), the rest by a task per `size` runs. Nested uses join the
    outermost. Lost with the broker, the tick picks the runs up."""
    if getattr(_batched, "run_ids", None) is not None:
        yield
        return
    _batched.run_ids = run_ids = []
    try:
        yield
    finally:
        _batched.run_ids = None
    if run_ids:
        transaction.on_commit(lambda: runs_advance_now(run_ids, size=size), robust=True)


def runs_advance_now(run_ids: list[int], *, size: int = ADVANCE_BATCH_SIZE) -> None:
    """Do the set-based runs among these at once and queue the rest, a task per `size` runs
    (outside a transaction: each batch commits on its own)."""
    from workflows import tasks  # noqa: PLC0415 (tasks import these services)
    from workflows.services import batch  # noqa: PLC0415 (batch's records follow these)

    left = run_ids
    try:
        batch.runs_advance_batch(run_ids)
        # The others' steps inside the desk (tags, attributes, a task, a chat message) too,
        # up to their first step that reaches outside (an OMS call, an email, a URL): that one,
        # and what follows, in a task, so a slow far side never holds up this caller.
        for run_id, position, steps in WorkflowRun.objects.filter(pk__in=run_ids, status=RunStatus.RUNNING) \
                .order_by("pk").values_list("pk", "position", "version__steps"):
            if not _step_reaches_outside(steps, position):
                run_advance(run_id, inside_only=True)
        left = list(WorkflowRun.objects.filter(pk__in=run_ids, status=RunStatus.RUNNING)
                    .order_by("pk").values_list("pk", flat=True))
    except Exception:  # noqa: BLE001 (the queued tasks try again)
        log.warning("Could not advance %s workflow runs at once; queueing them", len(run_ids), exc_info=True)
    for start in range(0, len(left), size):
        tasks.runs_advance_many_enqueue(left[start:start + size])


def _advance_after_commit(run_ids: list[int]) -> None:
    """Runs just started: with the caller's batch (`runs_advance_batched`), else a task each."""
    batched = getattr(_batched, "run_ids", None)
    if batched is not None:
        batched.extend(run_ids)
        return
    for run_id in run_ids:
        run_advance_later(run_id)


def run_advance_later(run_id: int, *, countdown: float | None = None) -> None:
    from workflows import tasks  # noqa: PLC0415 (tasks import these services)

    transaction.on_commit(lambda: tasks.run_advance_enqueue(run_id, countdown=countdown))


# --- Advancing -----------------------------------------------------------------------------


def _checkpoint(name: str) -> None:
    """A named point between a step's writes; tests make it raise to kill the worker there."""


class _Outcome:
    CONTINUE, STOP, BUSY = "continue", "stop", "busy"


def run_advance(run_id: int, *, now: datetime | None = None, inside_only: bool = False) -> str:
    """Do the run's next steps until it waits, finishes or fails; its status at the end.
    Idempotent and safe in parallel: a run held by another worker is left to it.
    `inside_only`: stop before a step that reaches outside the desk (left running)."""
    for _attempt in range(64):
        if inside_only and _next_step_reaches_outside(run_id):
            break
        outcome = _step_once(run_id, now=now)
        if outcome != _Outcome.CONTINUE:
            break
    return WorkflowRun.objects.filter(pk=run_id).values_list("status", flat=True).first() or ""


def _next_step_reaches_outside(run_id: int) -> bool:
    row = WorkflowRun.objects.filter(pk=run_id).values_list("position", "version__steps").first()
    if row is None:
        return False
    position, steps = row
    return _step_reaches_outside(steps, position)


def _step_reaches_outside(steps: list[dict[str, Any]] | None, position: int) -> bool:
    if position >= len(steps or []):
        return False
    spec = steps[position]
    action = registry.action(spec.get("action", ""))
    return action is not None and action.external and not _internal_channel(action.name, spec.get("params") or {})


def _locked_run(run_id: int) -> WorkflowRun | None:
    return (WorkflowRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("version", "workflow").filter(pk=run_id).first())


def _step_once(run_id: int, *, now: datetime | None) -> str:
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked_run(run_id)
        if run is None:
            return _Outcome.BUSY
        if run.status == RunStatus.WAITING and run.resume_at and run.resume_at <= now:
            run.status = RunStatus.RUNNING
            run.resume_at = None
        if run.status != RunStatus.RUNNING:
            return _Outcome.STOP
        if run.leased_until and run.leased_until > now:
            return _Outcome.BUSY  # another worker is in an outside step
        if run.resume_at and run.resume_at > now:
            return _Outcome.STOP  # backing off after a transient failure
        steps = run.version.steps or []
        if run.position >= len(steps):
            _finish(run, RunStatus.DONE, now=now)
            return _Outcome.STOP
        spec = steps[run.position]
        action = registry.action(spec.get("action", ""))
        step = _step_started(run, spec.get("action", ""), now=now)
        if action is None:
            gone = _("The action %(action)s is no longer available.") % {"action": spec.get("action")}
            _step_failed(run, step, gone, now=now, permanent=True)
            return _Outcome.STOP
        subject = subject_load(run.contact_id, run.subject_type, run.subject_id)
        if subject is None:
            _step_failed(run, step, _("The contact or the subject no longer exists."), now=now, permanent=True)
            return _Outcome.STOP
        context = _context(run, step, subject, now=now)
        params = spec.get("params") or {}
        external = action.external and not _internal_channel(action.name, params)
        if not external:
            try:
                with transaction.atomic():
                    result = action.run(params, context)
            except registry.StepFailed as error:
                _step_failed(run, step, str(error), now=now, permanent=True)
                return _Outcome.STOP
            except Exception as error:  # noqa: BLE001 (any error of a step is recorded, not raised)
                log.warning("Workflow run %s step %s failed", run.pk, run.position, exc_info=True)
                _step_failed(run, step, f"{type(error).__name__}: {error}", now=now, permanent=False)
                return _Outcome.STOP
            _checkpoint("internal_done")
            return _step_done(run, step, result, now=now)
        run.leased_until = now + timedelta(seconds=settings.WORKFLOWS_STEP_LEASE_SECONDS)
        run.save(update_fields=["status", "resume_at", "leased_until", "updated_at"])
    _checkpoint("external_started")
    try:
        result = action.run(params, context)
    except registry.StepFailed as error:
        return _after_external(run_id, step.pk, error=str(error), permanent=True)
    except Exception as error:  # noqa: BLE001
        log.warning("Workflow run %s step %s failed", run_id, step.position, exc_info=True)
        return _after_external(run_id, step.pk, error=f"{type(error).__name__}: {error}", permanent=False)
    _checkpoint("external_called")
    return _after_external(run_id, step.pk, result=result)


def _internal_channel(action_name: str, params: dict[str, Any]) -> bool:
    if action_name != "send_message":
        return False
    channel = registry.channel(params.get("channel", ""))
    return channel is not None and not channel.external


def _after_external(run_id: int, step_id: int, *, result: registry.StepResult | None = None,
                    error: str = "", permanent: bool = False) -> str:
    now = timezone.now()
    with transaction.atomic():
        run = (WorkflowRun.objects.select_for_update(of=("self",)).select_related("version", "workflow")
               .get(pk=run_id))
        step = WorkflowRunStep.objects.get(pk=step_id)
        run.leased_until = None
        if step.status == StepStatus.DONE or run.position != step.position:
            run.save(update_fields=["leased_until", "updated_at"])
            return _Outcome.CONTINUE  # another attempt finished it meanwhile
        if result is None:
            _step_failed(run, step, error, now=now, permanent=permanent)
            return _Outcome.STOP
        outcome = _step_done(run, step, result, now=now)
    _checkpoint("external_done")
    return outcome


def _step_started(run: WorkflowRun, action: str, *, now: datetime) -> WorkflowRunStep:
    step = WorkflowRunStep.objects.filter(run=run, position=run.position).first()
    if step is None:
        return WorkflowRunStep.objects.create(run=run, position=run.position, action=action,
                                              idempotency_key=step_key(run, run.position), started_at=now)
    step.attempts += 1
    step.status = StepStatus.STARTED
    step.save(update_fields=["attempts", "status"])
    return step


def _context(run: WorkflowRun, step: WorkflowRunStep, subject: Subject, *, now: datetime) -> registry.StepContext:
    variables = subject_variables(subject)
    variables.update((run.trigger or {}).get("variables") or {})  # e.g. a received message's excerpt
    for done in WorkflowRunStep.objects.filter(run=run, status=StepStatus.DONE, position__lt=step.position):
        variables.update((done.result or {}).get("variables") or {})
    return registry.StepContext(
        workflow_id=run.workflow_id, run_id=run.pk, position=step.position, contact=subject.contact,
        order=subject.order, conversation=subject.conversation, idempotency_key=step.idempotency_key,
        actor=run_actor(run), chain=[*run.chain, run.workflow_id], variables=variables, now=now,
    )


def _step_done(run: WorkflowRun, step: WorkflowRunStep, result: registry.StepResult, *, now: datetime) -> str:
    step.status = StepStatus.DONE
    step.finished_at = timezone.now()
    step.error = ""
    step.result = {"data": _jsonable(result.data), "summary": result.summary,
                   "variables": _jsonable(result.variables)}
    step.save(update_fields=["status", "finished_at", "error", "result"])
    run.position = step.position + 1
    run.attempts = 0
    run.error = ""
    if result.stop:
        _finish(run, RunStatus.STOPPED, now=now)
        return _Outcome.STOP
    if result.wait_seconds:
        run.status = RunStatus.WAITING
        run.resume_at = now + timedelta(seconds=result.wait_seconds)
        run.save(update_fields=["position", "attempts", "error", "status", "resume_at", "leased_until",
                                "updated_at"])
        run_advance_later(run.pk, countdown=result.wait_seconds)
        return _Outcome.STOP
    run.save(update_fields=["position", "attempts", "error", "status", "resume_at", "leased_until", "updated_at"])
    return _Outcome.CONTINUE


def _step_failed(run: WorkflowRun, step: WorkflowRunStep, error: str, *, now: datetime, permanent: bool) -> None:
    step.status = StepStatus.FAILED
    step.error = error[:2000]
    step.finished_at = timezone.now()
    step.save(update_fields=["status", "error", "finished_at"])
    run.attempts += 1
    run.error = error[:2000]
    if permanent or run.attempts >= settings.WORKFLOWS_STEP_MAX_ATTEMPTS:
        _finish(run, RunStatus.FAILED, now=now)
        return
    backoff = min(2 ** run.attempts, 300)
    run.resume_at = now + timedelta(seconds=backoff)
    run.save(update_fields=["status", "attempts", "error", "resume_at", "leased_until", "updated_at"])
    run_advance_later(run.pk, countdown=backoff)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _finish(run: WorkflowRun, status: str, *, now: datetime) -> None:
    summaries = list(WorkflowRunStep.objects.filter(run=run, status=StepStatus.DONE)
                     .order_by("position").values_list("result__summary", flat=True))
    summary = "; ".join(text for text in summaries if text)
    if status == RunStatus.STOPPED:
        summary = f"{summary}; {_('stopped')}" if summary else _("Stopped: a condition no longer held.")
    elif status == RunStatus.FAILED:
        summary = f"{summary}; {_('failed')}: {run.error}" if summary else f"{_('Failed')}: {run.error}"
    run.status = status
    run.summary = summary[:2000]
    run.finished_at = now
    run.leased_until = None
    run.resume_at = None
    run.save(update_fields=["status", "summary", "finished_at", "leased_until", "resume_at", "position",
                            "attempts", "error", "updated_at"])
    events.workflow_run_event(
        contact_id=run.contact_id, run_id=run.pk, workflow=run.workflow.name, version=run.version.number,
        status=status, summary=run.summary, occurred_at=now, actor=run_actor(run),
    )


# --- Retrying, resuming --------------------------------------------------------------------


def run_retry(run_id: int) -> WorkflowRun:
    """Try a failed run again from the step that failed, on the version it started on, with
    the same idempotency keys (so what the failed attempt did reach is not done twice)."""
    from supportdesk.errors import Conflict, NotFound  # noqa: PLC0415

    with transaction.atomic():
        run = WorkflowRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise NotFound(_("No workflow run %(id)s.") % {"id": run_id})
        if run.status != RunStatus.FAILED:
            if run.status in (RunStatus.RUNNING, RunStatus.WAITING):
                return run  # retried already (a second click): nothing more to do
            raise Conflict(_("Only a failed run can be retried; this one is %(status)s.")
                           % {"status": run.get_status_display()}, code="run_not_failed")
        run.status = RunStatus.RUNNING
        run.attempts = 0
        run.finished_at = None
        run.resume_at = None
        run.save(update_fields=["status", "attempts", "finished_at", "resume_at", "updated_at"])
        run_advance_later(run.pk)
    return run


def runs_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Runs to advance now: waits that ended, backoffs that ended, leases that lapsed (a
    worker died mid-step), and running runs whose task was lost."""
    now = now or timezone.now()
    waiting = WorkflowRun.objects.filter(status=RunStatus.WAITING, resume_at__lte=now)
    lost_before = now - timedelta(seconds=settings.WORKFLOWS_LOST_RUN_SECONDS)
    running = (WorkflowRun.objects.filter(status=RunStatus.RUNNING, updated_at__lte=lost_before)
               .exclude(leased_until__gt=now).exclude(resume_at__gt=now))
    ids = list(waiting.order_by("resume_at").values_list("pk", flat=True)[:limit])
    ids += list(running.order_by("created_at").values_list("pk", flat=True)[:limit])
    return ids
