"""Many runs at once, for schedules over large segments: when every step of a version only
changes the contact's own row (tags, a custom attribute), a batch of runs is done in a few
set-based statements in one transaction, no Python object per run: the contacts' update,
each step's row with its idempotency key, the runs done with their summary, and the
workflow.run and contact.updated timeline events (with their outbox entries for the
consumers that want those kinds). The records are those of the one-by-one path
(`runs.run_advance`, its specification; tests/workflows/test_schedules.py checks both give
the same), except a step's `data`, left empty here. Runs of other versions are left to it.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from supportdesk import outbox
from supportdesk.db import pg_int_array, pg_text_array
from supportdesk.models import OutboxEntry
from timeline.events import EventKind
from timeline.models import TIMELINE_STREAM, Contact, TimelineEvent
from workflows.models import RunStatus, WorkflowRun, WorkflowRunStep, WorkflowVersion

BATCHABLE = frozenset({"add_tags", "remove_tags", "set_contact_attribute"})
_q = connection.ops.quote_name


def batchable(version: WorkflowVersion) -> bool:
    steps = version.steps or []
    return bool(steps) and batchable_prefix(version) == len(steps)


def batchable_prefix(version: WorkflowVersion) -> int:
    """How many of the version's first steps can go set-based (a run whose later steps cannot,
    an OMS call say, has these done at once and is left running at the first of the others)."""
    count = 0
    for step in version.steps or []:
        if step.get("action") not in BATCHABLE:
            break
        count += 1
    return count


def _apply(cursor: Any, step: dict[str, Any], contact_ids: list[int]) -> tuple[list[tuple[int, str]], str]:
    """Do one step for every contact: (contact id, changes as JSON) of those that changed, and
    the step's summary (the same words as the one-by-one path)."""
    table = _q(Contact._meta.db_table)
    ids = pg_int_array(contact_ids)  # arrays as literals: psycopg's lists cost more in Python
    params = step.get("params") or {}
    if step["action"] in ("add_tags", "remove_tags"):
        tags = list(dict.fromkeys(params["tags"]))
        add = step["action"] == "add_tags"
        # One tag (the common case) without a subquery a row: the WHERE clause leaves out the
        # rows that have it (add) or lack it (remove). The new tags come back as they are and
        # are sorted here: sorting them in SQL cost as much as the update itself.
        if add:
            where = "NOT tags @> %s"
            expression = ("tags || %s::varchar[]" if len(tags) == 1
                          else "ARRAY(SELECT DISTINCT unnest(tags || %s::varchar[]))")
        else:
            where = "tags && %s"
            expression = ("array_remove(tags, (%s::varchar[])[1])" if len(tags) == 1
                          else "ARRAY(SELECT unnest(tags) EXCEPT SELECT unnest(%s::varchar[]))")
        cursor.execute(f"""UPDATE {table} SET tags = {expression}, updated_at = now()
                            WHERE id = ANY(%s::bigint[]) AND {where}::varchar[]
                        RETURNING id, tags""", [tags, ids, tags])
        changed = [(contact_id, json.dumps({"tags": sorted(after)})) for contact_id, after in cursor.fetchall()]
        return changed, (_("tagged %(tags)s") if add else _("untagged %(tags)s")) % {"tags": ", ".join(tags)}
    name, value = params["name"], json.dumps(params["value"])
    cursor.execute(f"""UPDATE {table} SET attributes = attributes || jsonb_build_object(%s, %s::jsonb),
                              updated_at = now()
                        WHERE id = ANY(%s::bigint[]) AND attributes -> %s IS DISTINCT FROM %s::jsonb
                    RETURNING id""", [name, value, ids, name, value])
    change = json.dumps({f"attributes.{name}": params["value"]})  # the same for every contact
    return [(contact_id, change) for (contact_id,) in cursor.fetchall()], \
        _("set %(name)s to %(value)s") % {"name": name, "value": params["value"]}


def _consumers_for(kind: str, payload: dict[str, Any] | None = None) -> list[str]:
    """The consumers that want events of this kind and payload (every event a statement writes
    has the same kind and the same keys of changes)."""
    probe = TimelineEvent(kind=kind, payload=payload or {})
    return [consumer.name for consumer in outbox.consumers_of(TIMELINE_STREAM)
            if consumer.wants is None or consumer.wants(probe)]


def _events_insert(cursor: Any, *, kind: str, select: str, params: list[Any], consumers: list[str]) -> None:
    """Insert timeline events from `select` (contact_id, actor, payload, subject_type,
    subject_id) with the outbox entries of `consumers` (`_consumers_for` this kind)."""
    events_table = _q(TimelineEvent._meta.db_table)
    insert = f"""INSERT INTO {events_table} (contact_id, occurred_at, kind, actor, payload, subject_type,
                                             subject_id, created_at)
                 SELECT s.contact_id, now(), %s, s.actor, s.payload, s.subject_type, s.subject_id, now()
                   FROM ({select}) AS s"""
    if not consumers:
        cursor.execute(insert, [kind, *params])
        return
    cursor.execute(f"""WITH inserted AS ({insert} RETURNING id)
                       INSERT INTO {_q(OutboxEntry._meta.db_table)} (stream, consumer, ref_id)
                       SELECT %s, consumer, inserted.id FROM inserted, unnest(%s::text[]) AS consumer""",
                   [kind, *params, TIMELINE_STREAM, consumers])
    outbox.outbox_kick(consumers)


def _summary(step: dict[str, Any]) -> str:
    """A step's words, as the one-by-one path says them (they depend on its params alone)."""
    params = step.get("params") or {}
    if step["action"] == "add_tags":
        return _("tagged %(tags)s") % {"tags": ", ".join(dict.fromkeys(params["tags"]))}
    if step["action"] == "remove_tags":
        return _("untagged %(tags)s") % {"tags": ", ".join(dict.fromkeys(params["tags"]))}
    return _("set %(name)s to %(value)s") % {"name": params["name"], "value": params["value"]}


def runs_advance_batch(run_ids: list[int]) -> int:
    """Do the runs among these whose steps can go set-based: all of them (the run is done), or
    the first ones (it is left running at the first step that cannot, for the one-by-one
    path). The number of runs advanced. Idempotent and parallel-safe: a run is claimed by the
    one UPDATE that finds it running at its first step (a concurrent claimer waits on the row,
    then finds it moved on and leaves it).

    Every version's runs in one transaction, claimed in one statement and their records
    written in one per kind (`batches_apply`): a drain's batch starts runs of dozens of
    workflows, a few each, and a statement per workflow and record cost more than the work."""
    runs_table = _q(WorkflowRun._meta.db_table)
    now = timezone.now()
    version_ids = set(WorkflowRun.objects.filter(pk__in=run_ids, status=RunStatus.RUNNING, position=0)
                      .values_list("version_id", flat=True).distinct())
    versions = WorkflowVersion.objects.select_related("workflow").in_bulk(list(version_ids))
    prefixes = {pk: prefix for pk, version in versions.items() if (prefix := batchable_prefix(version))}
    if not prefixes:
        return 0
    claims = [(pk, prefix, prefix == len(versions[pk].steps),
               "; ".join(_summary(step) for step in versions[pk].steps[:prefix]))
              for pk, prefix in prefixes.items()]
    with transaction.atomic(), connection.cursor() as cursor:
        # A version whose steps all go set-based has its runs done; the others' are left running
        # at their first step that does not.
        cursor.execute(f"""UPDATE {runs_table} r
                              SET status = CASE WHEN v.finished THEN 'done' ELSE r.status END, position = v.prefix,
                                  finished_at = CASE WHEN v.finished THEN %s ELSE r.finished_at END,
                                  summary = CASE WHEN v.finished THEN v.summary ELSE r.summary END, updated_at = %s
                             FROM unnest(%s::bigint[], %s::integer[], %s::boolean[], %s::text[])
                                  AS v(version_id, prefix, finished, summary)
                            WHERE r.id = ANY(%s::bigint[]) AND r.version_id = v.version_id AND r.status = 'running'
                              AND r.position = 0 AND r.leased_until IS NULL AND r.attempts = 0
                              AND r.resume_at IS NULL
                        RETURNING r.id, r.contact_id, r.version_id""",
                       [now, now, [pk for pk, _, _, _ in claims], [prefix for _, prefix, _, _ in claims],
                        [finished for _, _, finished, _ in claims], [summary for _, _, _, summary in claims],
                        pg_int_array(run_ids)])
        rows = cursor.fetchall()
        if not rows:
            return 0
        # The contacts locked first, by ascending id, as every writer of them does
        # (timeline.locks): the steps' UPDATEs would lock them in scan order, step by step.
        cursor.execute(f"SELECT 1 FROM {_q(Contact._meta.db_table)} WHERE id = ANY(%s::bigint[]) "
                       "ORDER BY id FOR NO KEY UPDATE", [pg_int_array(sorted({cid for _, cid, _ in rows}))])
        claimed: dict[int, list[tuple[int, int]]] = {}
        for run_id, contact_id, version_id in rows:
            claimed.setdefault(version_id, []).append((run_id, contact_id))
        batches_apply(cursor, [(versions[pk], claimed[pk], prefixes[pk]) for pk in sorted(claimed)], now=now)
    return len(rows)


def batch_apply(cursor: Any, version: WorkflowVersion, rows: list[tuple[int, int]], *, now: Any,
                steps: int | None = None) -> None:
    """The effects and records of the version's first `steps` steps (all by default) for these
    runs (run id, contact id), claimed by the caller in this transaction: the contacts' update,
    the step rows, the contact.updated events, and the workflow.run event when that is all of
    them (the run is done; a run left running gets its event from the one-by-one path)."""
    batches_apply(cursor, [(version, rows, len(version.steps) if steps is None else steps)], now=now)


def batches_apply(cursor: Any, batches: list[tuple[WorkflowVersion, list[tuple[int, int]], int]], *,
                  now: Any) -> None:
    """`batch_apply` for the runs of several versions at once (version, its runs, its steps to
    do): an UPDATE of the contacts per version and step, as their params differ, and each kind
    of record (step rows, contact.updated and workflow.run events) in one statement for all."""
    runs_table, steps_table = _q(WorkflowRun._meta.db_table), _q(WorkflowRunStep._meta.db_table)
    run_ids: list[int] = []
    step_rows: list[tuple[int, int, str, str]] = []  # version, position, action, result
    changes: dict[tuple[str, ...], list[tuple[int, int, str, int]]] = {}  # consumers: workflow, contact, run
    finished: list[tuple[int, str, str, int]] = []  # version, workflow name, summary, number
    wanting: dict[str, list[str]] = {}  # consumers of contact.updated by field changed
    if not any(rows for _version, rows, _steps in batches):
        return
    for version, rows, steps in batches:
        done_steps = version.steps[:steps]
        summaries = [_summary(step) for step in done_steps]
        run_ids.extend(run_id for run_id, _ in rows)
        contact_run = {contact_id: run_id for run_id, contact_id in rows}
        for position, step in enumerate(done_steps):
            changed, _words = _apply(cursor, step, list(contact_run))
            step_rows.append((version.pk, position, step["action"],
                              json.dumps({"data": {}, "summary": summaries[position], "variables": {}})))
            if changed:
                field = ("tags" if step["action"] in ("add_tags", "remove_tags")
                         else f"attributes.{(step.get('params') or {}).get('name')}")
                if field not in wanting:
                    wanting[field] = _consumers_for(EventKind.CONTACT_UPDATED, {"changes": {field: None}})
                changes.setdefault(tuple(wanting[field]), []).extend(
                    (version.workflow_id, contact_id, change, contact_run[contact_id])
                    for contact_id, change in changed)
        if len(done_steps) == len(version.steps):
            finished.append((version.pk, version.workflow.name, "; ".join(summaries), version.number))
    ids = pg_int_array(run_ids)
    key = "'wf:' || r.workflow_id || ':' || r.run_key || ':' || s.position"
    cursor.execute(f"""
        INSERT INTO {steps_table} (run_id, position, action, status, idempotency_key, attempts,
                                   started_at, finished_at, result, error)
        SELECT r.id, s.position, s.action, 'done',
               CASE WHEN length({key}) <= 200 THEN {key}
                    ELSE 'wf:' || r.workflow_id || ':'
                         || encode(sha256(convert_to({key}, 'UTF8')), 'hex') || ':' || s.position END,
               1, %s, %s, s.result::jsonb, ''
          FROM {runs_table} r
          JOIN unnest(%s::bigint[], %s::integer[], %s::text[], %s::text[])
               AS s(version_id, position, action, result) ON s.version_id = r.version_id
         WHERE r.id = ANY(%s::bigint[])""",
                   [now, now, *(list(column) for column in zip(*step_rows, strict=True)), ids])
    for consumers, rows in changes.items():
        _events_insert(cursor, kind=EventKind.CONTACT_UPDATED, consumers=list(consumers), params=[
            pg_int_array([workflow_id for workflow_id, _, _, _ in rows]),
            pg_int_array([contact_id for _, contact_id, _, _ in rows]),
            pg_text_array([change for _, _, change, _ in rows]),
            pg_int_array([run_id for _, _, _, run_id in rows])],
            select="""SELECT c.contact_id, 'workflow:' || c.workflow_id || ':' || c.run_id AS actor,
                             jsonb_build_object('changes', c.changes::jsonb) AS payload,
                             'contact' AS subject_type, c.contact_id AS subject_id
                        FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::bigint[])
                             AS c(workflow_id, contact_id, changes, run_id)""")
    if not finished:
        return
    _events_insert(cursor, kind=EventKind.WORKFLOW_RUN, consumers=_consumers_for(EventKind.WORKFLOW_RUN), params=[
        RunStatus.DONE, *(list(column) for column in zip(*finished, strict=True)), ids],
        select=f"""SELECT r.contact_id, 'workflow:' || r.workflow_id || ':' || r.id AS actor,
                          jsonb_build_object('workflow', v.name, 'summary', v.summary, 'status', %s::text,
                                             'version', v.number, 'run', r.id) AS payload,
                          'workflow_run' AS subject_type, r.id AS subject_id
                     FROM {runs_table} r
                     JOIN unnest(%s::bigint[], %s::text[], %s::text[], %s::integer[])
                          AS v(version_id, name, summary, number) ON v.version_id = r.version_id
                    WHERE r.id = ANY(%s::bigint[])""")
