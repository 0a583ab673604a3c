"""Many runs at once, for schedules over large segments: when every step of a version only
changes the contact's own row (tags, a custom attribute), a batch of runs is done in a few
set-based statements in one transaction (steps, runs, timeline events), instead of one
transaction a step a run. Same records as the one-by-one path: a step row per step with its
idempotency key, the run done with its summary, a workflow.run event on each timeline.
Runs of other versions are left to `run_advance`."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from timeline import events
from timeline.models import Contact
from workflows.models import RunStatus, StepStatus, WorkflowRun, WorkflowRunStep, WorkflowVersion
from workflows.services.runs import run_actor, step_key

BATCHABLE = frozenset({"add_tags", "remove_tags", "set_contact_attribute"})


def batchable(version: WorkflowVersion) -> bool:
    steps = version.steps or []
    return bool(steps) and all(step.get("action") in BATCHABLE for step in steps)


def _apply(step: dict[str, Any], contact_ids: list[int]) -> tuple[dict[int, dict[str, Any]], str]:
    """Do one step for every contact; the changes per contact that changed, and the summary."""
    table = connection.ops.quote_name(Contact._meta.db_table)
    params = step.get("params") or {}
    action = step["action"]
    with connection.cursor() as cursor:
        if action in ("add_tags", "remove_tags"):
            tags = list(dict.fromkeys(params["tags"]))
            if action == "add_tags":
                cursor.execute(f"""UPDATE {table} SET tags = ARRAY(SELECT DISTINCT unnest(tags || %s::varchar[])),
                                          updated_at = now()
                                    WHERE id = ANY(%s) AND NOT tags @> %s::varchar[] RETURNING id, tags""",
                               [tags, contact_ids, tags])
                summary = _("tagged %(tags)s") % {"tags": ", ".join(tags)}
            else:
                cursor.execute(f"""UPDATE {table} SET tags = ARRAY(SELECT unnest(tags) EXCEPT
                                                                  SELECT unnest(%s::varchar[])), updated_at = now()
                                    WHERE id = ANY(%s) AND tags && %s::varchar[] RETURNING id, tags""",
                               [tags, contact_ids, tags])
                summary = _("untagged %(tags)s") % {"tags": ", ".join(tags)}
            return {row_id: {"tags": sorted(row_tags)} for row_id, row_tags in cursor.fetchall()}, summary
        name, value = params["name"], json.dumps(params["value"])
        cursor.execute(f"""UPDATE {table} SET attributes = attributes || jsonb_build_object(%s, %s::jsonb),
                                  updated_at = now()
                            WHERE id = ANY(%s) AND attributes -> %s IS DISTINCT FROM %s::jsonb RETURNING id""",
                       [name, value, contact_ids, name, value])
        changed = {row_id: {f"attributes.{name}": params["value"]} for (row_id,) in cursor.fetchall()}
        return changed, _("set %(name)s to %(value)s") % {"name": name, "value": params["value"]}


def runs_advance_batch(run_ids: list[int]) -> int:
    """Do the runs among these whose steps can go set-based; the number done. Idempotent and
    parallel-safe: only running runs no other worker holds, at their first step, are taken."""
    now = timezone.now()
    done = 0
    with transaction.atomic():
        runs = list(WorkflowRun.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("version", "workflow")
                    .filter(pk__in=run_ids, status=RunStatus.RUNNING, position=0, leased_until__isnull=True))
        by_version: dict[int, list[WorkflowRun]] = defaultdict(list)
        for run in runs:
            if batchable(run.version):
                by_version[run.version_id].append(run)
        with events.buffered():
            for group in by_version.values():
                version = group[0].version
                runs_by_contact = {run.contact_id: run for run in group}
                steps, summaries = [], []
                for position, step in enumerate(version.steps):
                    changed, summary = _apply(step, list(runs_by_contact))
                    summaries.append(summary)
                    for contact_id, changes in changed.items():
                        events.contact_updated_event(contact=Contact(pk=contact_id), changes=changes,
                                                     occurred_at=now, actor=run_actor(runs_by_contact[contact_id]))
                    steps += [WorkflowRunStep(
                        run=run, position=position, action=step["action"], status=StepStatus.DONE,
                        idempotency_key=step_key(run, position), started_at=now, finished_at=now,
                        result={"data": changed.get(run.contact_id, {}), "summary": summary, "variables": {}})
                        for run in group]
                WorkflowRunStep.objects.bulk_create(steps, batch_size=5000)
                summary = "; ".join(summaries)
                WorkflowRun.objects.filter(pk__in=[run.pk for run in group]).update(
                    status=RunStatus.DONE, position=len(version.steps), finished_at=now, summary=summary,
                    updated_at=now)
                for run in group:
                    events.workflow_run_event(contact_id=run.contact_id, run_id=run.pk, workflow=run.workflow.name,
                                              version=version.number, status=RunStatus.DONE, summary=summary,
                                              occurred_at=now, actor=run_actor(run))
                done += len(group)
    return done
