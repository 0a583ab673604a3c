"""Schedules: a cron expression, evaluated over a segment's members when it comes due.

Runs are created set-based, a chunk of members per statement (INSERT ... SELECT ... ON
CONFLICT DO NOTHING on the run key, which names the firing), so a firing that is retried, or
two workers on the same firing, start each member's run once.

Over a million members a firing is many chunks, each committed on its own: the runs
written are the firing's progress. The workflow's `next_fire_at` moves on only once every
chunk is in, so a worker killed mid-firing leaves it due, and the next tick fires the same
moment again: the chunks done find their run keys taken (nothing twice), the rest are done.
One worker fires a workflow at a time (a session advisory lock, released by a dead
connection too). Per chunk, the conditions are evaluated in SQL (the segments' translation,
workflows.segments.sql; Python for an attribute it does not know) and the per-contact limit
is one count per contact of the chunk, joined once, skipped when the workflow has no run
in the window at all.
"""

from __future__ import annotations

import json
import logging
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext as _nothing
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from croniter import croniter
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from supportdesk import advisory_locks
from supportdesk.conditions import condition_matches
from supportdesk.db import pg_int_array, pg_text_array
from workflows.attributes import contact_attributes
from workflows.definitions import run_key_render
from workflows.models import RunStatus, Workflow, WorkflowRun, WorkflowVersion
from workflows.services.batch import _summary, batch_apply, batchable
from workflows.services.runs import COUNTED

log = logging.getLogger(__name__)
CHUNK = 20_000  # members a statement (and a transaction)
BATCH = 1_000  # runs a task


def cron_next(trigger: dict[str, Any], *, after: datetime) -> datetime:
    tz = zoneinfo.ZoneInfo(trigger.get("timezone") or "UTC")
    return croniter(trigger["cron"], after.astimezone(tz)).get_next(datetime)


def segment_member_ids(segment_id: int) -> Iterable[int]:
    from workflows import segments  # noqa: PLC0415 (the segments part: workflows.segments)

    return segments.segment_member_ids(segment_id)


def _chunks(ids: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(ids)
    while chunk := list(islice(iterator, size)):
        yield chunk


def schedules_fire(*, now: datetime | None = None) -> int:
    """Fire every enabled schedule that is due; the number of runs started. A chunk of
    members per transaction; a workflow fired by another worker is left to it."""
    now = now or timezone.now()
    started = 0
    busy: set[int] = set()
    while True:
        workflow = (Workflow.objects.select_related("current_version")
                    .filter(is_enabled=True, next_fire_at__lte=now).exclude(pk__in=busy)
                    .order_by("next_fire_at").first())
        if workflow is None:
            return started
        busy.add(workflow.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)",
                           [advisory_locks.SCHEDULE_FIRING, advisory_locks.pair_id(workflow.pk)])
            if not cursor.fetchone()[0]:
                continue  # another worker is firing it
        try:
            started += _fire(workflow.pk, now=now)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)",
                               [advisory_locks.SCHEDULE_FIRING, advisory_locks.pair_id(workflow.pk)])


def _fire(workflow_id: int, *, now: datetime) -> int:
    """One firing of the workflow, under its firing lock: re-read (another worker may have
    fired it meanwhile), create the runs chunk by chunk, then move `next_fire_at` on."""
    workflow = (Workflow.objects.select_related("current_version")
                .filter(pk=workflow_id, is_enabled=True, next_fire_at__lte=now).first())
    if workflow is None or workflow.current_version is None:
        return 0
    fired_at, version = workflow.next_fire_at, workflow.current_version
    started = schedule_runs_create(workflow=workflow, version=version, fired_at=fired_at,
                                   member_ids=segment_member_ids(version.trigger["segment"]),
                                   commit_each_chunk=True)
    following = cron_next(version.trigger, after=max(now, fired_at))
    # Unless the workflow was re-scheduled meanwhile (published, re-enabled): its own time.
    Workflow.objects.filter(pk=workflow.pk, next_fire_at=fired_at).update(next_fire_at=following,
                                                                          updated_at=timezone.now())
    return started


def _conditions_sql(version: WorkflowVersion, chunk: list[int], *, now: datetime) -> tuple[str, dict] | None:
    """The chunk's members the conditions hold for, as SQL (None: evaluate them in Python)."""
    from workflows.segments.sql import UnsupportedCondition, segment_sql  # noqa: PLC0415

    try:
        compiled = segment_sql(version.conditions, contact_ids=chunk, now=now)
    except (UnsupportedCondition, KeyError, TypeError, ValueError):
        return None
    return compiled.select("c.id")


def _parallel(work: Callable[[list[int]], int], chunks: Iterable[list[int]], *, workers: int) -> Iterator[int]:
    def in_thread(chunk: list[int]) -> int:
        try:
            return work(chunk)
        finally:
            connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="schedule") as pool:
        # At most a few chunks ahead of the threads (each chunk is its members' ids).
        pending: set[Future[int]] = set()
        for chunk in chunks:
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
            pending.add(pool.submit(in_thread, chunk))
        for future in pending:
            yield future.result()


def schedule_runs_create(*, workflow: Workflow, version: WorkflowVersion, fired_at: datetime,
                         member_ids: Iterable[int], commit_each_chunk: bool = False) -> int:
    """Create this firing's runs for the members (those whose conditions hold), skipped for
    those over the per-contact limit, and queue them a chunk per task after commit; the
    number created. Idempotent on the run keys. `commit_each_chunk`: each chunk in a
    transaction of its own (the caller holds none: schedules_fire)."""
    from workflows import tasks  # noqa: PLC0415 (tasks import these services)

    fired = fired_at.isoformat()
    # Steps that only touch the contact's row are done right here, set-based, the runs
    # inserted as done: no task per run, no second write of each run.
    inline = batchable(version)
    table = connection.ops.quote_name(WorkflowRun._meta.db_table)
    trigger = json.dumps({"schedule": version.trigger.get("cron"), "fired_at": fired})
    limited = bool(version.limit_count and version.limit_days)
    since = fired_at - timedelta(days=version.limit_days or 0)
    skipped_summary = _("Skipped: the contact reached the limit of %(count)s in %(days)s days.") % {
        "count": version.limit_count, "days": version.limit_days}
    done_summary = "; ".join(_summary(s) for s in version.steps) if inline else ""

    def one(chunk: list[int]) -> int:
        """This chunk's runs, in a transaction of its own when `commit_each_chunk`."""
        with transaction.atomic() if commit_each_chunk else _nothing():
            now = timezone.now()
            params: dict[str, Any] = {}
            members = "SELECT m.id, m.key FROM unnest(%(w_ids)s::bigint[], %(w_keys)s::text[]) AS m(id, key)"
            if version.conditions:
                holding = _conditions_sql(version, chunk, now=fired_at)
                if holding is None:
                    values = contact_attributes(chunk, now=fired_at)
                    chunk = [cid for cid in chunk
                             if cid in values and condition_matches(version.conditions, values[cid])]
                else:
                    members += f" WHERE m.id IN ({holding[0]})"
                    params.update(holding[1])
            if not chunk:
                return 0
            params.update(
                # Arrays as literals: psycopg dumps a list element by element in Python.
                w_ids=pg_int_array(chunk), w_workflow=workflow.pk, w_version=version.pk, w_trigger=trigger,
                w_now=now,
                w_keys=pg_text_array([run_key_render(version.run_key, workflow_id=workflow.pk, contact_id=cid,
                                                     subject_type="contact", subject_id=cid, fired=fired)
                                      for cid in chunk]),
                w_status="done" if inline else "running", w_steps=len(version.steps), w_summary=done_summary,
                w_skipped=skipped_summary)
            status = "%(w_status)s"
            recent = ""
            if limited and WorkflowRun.objects.filter(workflow=workflow, status__in=COUNTED,
                                                      created_at__gte=since).exists():
                # Each contact's runs in the window, counted once for the chunk.
                recent = f"""LEFT JOIN (SELECT r.contact_id, count(*) AS n FROM {table} r
                                         WHERE r.workflow_id = %(w_workflow)s
                                           AND r.contact_id = ANY(%(w_ids)s::bigint[])
                                           AND r.status = ANY(%(w_counted)s) AND r.created_at >= %(w_since)s
                                         GROUP BY r.contact_id) recent ON recent.contact_id = m.id"""
                status = "CASE WHEN coalesce(recent.n, 0) >= %(w_limit)s THEN 'skipped' ELSE %(w_status)s END"
                params.update(w_counted=list(COUNTED), w_since=since, w_limit=version.limit_count)
            sql = f"""
                WITH s AS (SELECT m.id, m.key, {status} AS status FROM ({members}) AS m {recent})
                INSERT INTO {table} (workflow_id, version_id, contact_id, subject_type, subject_id, run_key,
                                     status, trigger, chain, position, finished_at, summary, attempts, error,
                                     created_at, updated_at)
                SELECT %(w_workflow)s, %(w_version)s, s.id, 'contact', s.id, s.key, s.status, %(w_trigger)s::jsonb,
                       '{{}}', CASE WHEN s.status = 'done' THEN %(w_steps)s ELSE 0 END,
                       CASE WHEN s.status = 'running' THEN NULL ELSE %(w_now)s::timestamptz END,
                       CASE s.status WHEN 'done' THEN %(w_summary)s WHEN 'skipped' THEN %(w_skipped)s ELSE '' END,
                       0, '', %(w_now)s, %(w_now)s
                  FROM s
                ON CONFLICT (workflow_id, run_key) DO NOTHING
                RETURNING id, contact_id, status
            """
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
                if inline:
                    batch_apply(cursor, version, [(run_id, cid) for run_id, cid, status in rows
                                                  if status == RunStatus.DONE], now=now)
            running = [run_id for run_id, _cid, status in rows if status == RunStatus.RUNNING]
            for start in range(0, len(running), BATCH):
                batch = running[start:start + BATCH]
                transaction.on_commit(lambda batch=batch: tasks.runs_advance_many_enqueue(batch))
            return len(rows)

    chunks = _chunks(member_ids, CHUNK)
    workers = settings.WORKFLOWS_SCHEDULE_WORKERS
    if not commit_each_chunk or connection.in_atomic_block or workers <= 1:
        created = sum(one(chunk) for chunk in chunks)
    else:
        # Chunks in parallel, each thread on a connection of its own: the firing's work is in
        # PostgreSQL, which then uses more than one core. Chunks are disjoint (their members,
        # their run keys), so they never wait on one another.
        created = sum(_parallel(one, chunks, workers=workers))
    log.info("Workflow %s fired at %s: %s runs", workflow.key, fired, created)
    return created
