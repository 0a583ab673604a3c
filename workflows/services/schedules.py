"""Schedules: a cron expression, evaluated over a segment's members when it comes due.

Runs are created set-based, a chunk of members per statement (INSERT ... SELECT ... ON
CONFLICT DO NOTHING on the run key, which names the firing), so a firing that is retried, or
two workers on the same firing, start each member's run once.
"""

from __future__ import annotations

import json
import logging
import zoneinfo
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from croniter import croniter
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from supportdesk.conditions import condition_matches
from workflows.attributes import contact_attributes
from workflows.definitions import run_key_render
from workflows.models import RunStatus, Workflow, WorkflowRun, WorkflowVersion
from workflows.services.batch import _summary, batch_apply, batchable
from workflows.services.runs import COUNTED

log = logging.getLogger(__name__)
CHUNK = 10_000  # members a statement
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
    """Fire every enabled schedule that is due; the number of runs started."""
    now = now or timezone.now()
    started = 0
    while True:
        with transaction.atomic():
            workflow = (Workflow.objects.select_for_update(skip_locked=True, of=("self",))
                        .select_related("current_version").filter(is_enabled=True, next_fire_at__lte=now)
                        .order_by("next_fire_at").first())
            if workflow is None:
                return started
            fired_at = workflow.next_fire_at
            version = workflow.current_version
            workflow.next_fire_at = cron_next(version.trigger, after=max(now, fired_at))
            workflow.save(update_fields=["next_fire_at", "updated_at"])
            started += schedule_runs_create(workflow=workflow, version=version, fired_at=fired_at,
                                            member_ids=segment_member_ids(version.trigger["segment"]))


def schedule_runs_create(*, workflow: Workflow, version: WorkflowVersion, fired_at: datetime,
                         member_ids: Iterable[int]) -> int:
    """Create this firing's runs for the members (those whose conditions hold), skipped for
    those over the per-contact limit, and queue them a chunk per task after commit; the
    number created. Idempotent on the run keys."""
    from workflows import tasks  # noqa: PLC0415 (tasks import these services)

    fired = fired_at.isoformat()
    created = 0
    # Steps that only touch the contact's row are done right here, set-based, the runs
    # inserted as done: no task per run, no second write of each run.
    inline = batchable(version)
    now = timezone.now()
    done_sql = ("'done'", "%s", "%s", "%s") if inline else ("'running'", "0", "NULL", "''")
    done_params = [len(version.steps), now, "; ".join(_summary(s) for s in version.steps)] if inline else []
    table = connection.ops.quote_name(WorkflowRun._meta.db_table)
    trigger = json.dumps({"schedule": version.trigger.get("cron"), "fired_at": fired})
    for chunk in _chunks(member_ids, CHUNK):
        if version.conditions:
            values = contact_attributes(chunk, now=fired_at)
            chunk = [cid for cid in chunk if cid in values and condition_matches(version.conditions, values[cid])]
        if not chunk:
            continue
        keys = [run_key_render(version.run_key, workflow_id=workflow.pk, contact_id=cid, subject_type="contact",
                               subject_id=cid, fired=fired) for cid in chunk]
        status_sql, status_params = done_sql[0], []
        if version.limit_count and version.limit_days:
            status_sql = f"""CASE WHEN (SELECT count(*) FROM {table} r WHERE r.workflow_id = %s
                                AND r.contact_id = m.id AND r.status = ANY(%s)
                                AND r.created_at >= %s - make_interval(days => %s)) >= %s
                           THEN 'skipped' ELSE {done_sql[0]} END"""
            status_params = [workflow.pk, list(COUNTED), fired_at, version.limit_days, version.limit_count]
        sql = f"""
            INSERT INTO {table} (workflow_id, version_id, contact_id, subject_type, subject_id, run_key,
                                 status, trigger, chain, position, finished_at, summary, attempts, error,
                                 created_at, updated_at)
            SELECT %s, %s, m.id, 'contact', m.id, m.key, {status_sql}, %s::jsonb, '{{}}',
                   CASE WHEN {status_sql} = 'done' THEN {done_sql[1]} ELSE 0 END,
                   CASE WHEN {status_sql} = 'running' THEN NULL ELSE %s::timestamptz END,
                   CASE WHEN {status_sql} = 'done' THEN {done_sql[3]} ELSE '' END, 0, '', now(), now()
              FROM unnest(%s::bigint[], %s::text[]) AS m(id, key)
            ON CONFLICT (workflow_id, run_key) DO NOTHING
            RETURNING id, contact_id, status
        """
        skipped_summary = _("Skipped: the contact reached the limit of %(count)s in %(days)s days.") % {
            "count": version.limit_count, "days": version.limit_days}
        params = [workflow.pk, version.pk, *status_params, trigger, *status_params,
                  *([done_params[0]] if inline else []), *status_params, now, *status_params,
                  *([done_params[2]] if inline else []), chunk, keys]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            if inline:
                batch_apply(cursor, version, [(run_id, cid) for run_id, cid, status in rows
                                              if status == RunStatus.DONE], now=now)
            skipped = [run_id for run_id, _cid, status in rows if status == RunStatus.SKIPPED]
            if skipped:
                WorkflowRun.objects.filter(pk__in=skipped).update(summary=skipped_summary)
        created += len(rows)
        running = [run_id for run_id, _cid, status in rows if status == RunStatus.RUNNING]
        for start in range(0, len(running), BATCH):
            batch = running[start:start + BATCH]
            transaction.on_commit(lambda batch=batch: tasks.runs_advance_many_enqueue(batch))
    log.info("Workflow %s fired at %s: %s runs", workflow.key, fired, created)
    return created
