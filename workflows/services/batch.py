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


def _events_insert(cursor: Any, *, kind: str, select: str, params: list[Any],
                   probe_payload: dict[str, Any] | None = None) -> None:
    """Insert timeline events from `select` (contact_id, actor, payload, subject_type,
    subject_id) with the outbox entries of the consumers that want this kind."""
    events_table = _q(TimelineEvent._meta.db_table)
    insert = f"""INSERT INTO {events_table} (contact_id, occurred_at, kind, actor, payload, subject_type,
                                             subject_id, created_at)
                 SELECT s.contact_id, now(), %s, s.actor, s.payload, s.subject_type, s.subject_id, now()
                   FROM ({select}) AS s"""
    consumers = _consumers_for(kind, probe_payload)
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
    then finds it moved on and leaves it)."""
    runs_table = _q(WorkflowRun._meta.db_table)
    advanced = 0
    now = timezone.now()
    version_ids = set(WorkflowRun.objects.filter(pk__in=run_ids, status=RunStatus.RUNNING, position=0)
                      .values_list("version_id", flat=True).distinct())
    versions = WorkflowVersion.objects.select_related("workflow").in_bulk(list(version_ids))
    claimed = pg_int_array(run_ids)
    for version in versions.values():
        prefix = batchable_prefix(version)
        if not prefix:
            continue
        finished = prefix == len(version.steps)
        summary = "; ".join(_summary(step) for step in version.steps[:prefix])
        with transaction.atomic(), connection.cursor() as cursor:
            if finished:
                cursor.execute(f"""UPDATE {runs_table} SET status = 'done', position = %s, finished_at = %s,
                                          summary = %s, updated_at = %s
                                    WHERE id = ANY(%s::bigint[]) AND version_id = %s AND status = 'running'
                                      AND position = 0 AND leased_until IS NULL AND attempts = 0
                                      AND resume_at IS NULL
                                RETURNING id, contact_id""",
                               [prefix, now, summary, now, claimed, version.pk])
            else:
                cursor.execute(f"""UPDATE {runs_table} SET position = %s, updated_at = %s
                                    WHERE id = ANY(%s::bigint[]) AND version_id = %s AND status = 'running'
                                      AND position = 0 AND leased_until IS NULL AND attempts = 0
                                      AND resume_at IS NULL
                                RETURNING id, contact_id""",
                               [prefix, now, claimed, version.pk])
            rows = cursor.fetchall()
            if not rows:
                continue
            # The contacts locked first, by ascending id, as every writer of them does
            # (timeline.locks): the steps' UPDATEs would lock them in scan order, step by step.
            cursor.execute(f"SELECT 1 FROM {_q(Contact._meta.db_table)} WHERE id = ANY(%s::bigint[]) "
                           "ORDER BY id FOR NO KEY UPDATE", [pg_int_array(sorted({cid for _, cid in rows}))])
            batch_apply(cursor, version, rows, now=now, steps=prefix)
            advanced += len(rows)
    return advanced


def batch_apply(cursor: Any, version: WorkflowVersion, rows: list[tuple[int, int]], *, now: Any,
                steps: int | None = None) -> None:
    """The effects and records of the version's first `steps` steps (all by default) for these
    runs (run id, contact id), claimed by the caller in this transaction: the contacts' update,
    the step rows, the contact.updated events, and the workflow.run event when that is all of
    them (the run is done; a run left running gets its event from the one-by-one path)."""
    runs_table, steps_table = _q(WorkflowRun._meta.db_table), _q(WorkflowRunStep._meta.db_table)
    done_steps = version.steps[:steps] if steps is not None else version.steps
    summaries = [_summary(step) for step in done_steps]
    summary = "; ".join(summaries)
    ids = pg_int_array([run_id for run_id, _ in rows])
    contact_run = {contact_id: run_id for run_id, contact_id in rows}
    for position, step in enumerate(done_steps):
        changed, _words = _apply(cursor, step, list(contact_run))
        key = f"'wf:' || r.workflow_id || ':' || r.run_key || ':' || {position}"
        cursor.execute(f"""
            INSERT INTO {steps_table} (run_id, position, action, status, idempotency_key, attempts,
                                       started_at, finished_at, result, error)
            SELECT r.id, %s, %s, 'done',
                   CASE WHEN length({key}) <= 200 THEN {key}
                        ELSE 'wf:' || r.workflow_id || ':'
                             || encode(sha256(convert_to({key}, 'UTF8')), 'hex') || ':' || {position} END,
                   1, %s, %s, %s::jsonb, ''
              FROM {runs_table} r WHERE r.id = ANY(%s::bigint[])""",
                       [position, step["action"], now, now,
                        json.dumps({"data": {}, "summary": summaries[position], "variables": {}}), ids])
        if changed:
            field = ("tags" if step["action"] in ("add_tags", "remove_tags")
                     else f"attributes.{(step.get('params') or {}).get('name')}")
            probe = {"changes": {field: None}}
            _events_insert(cursor, kind=EventKind.CONTACT_UPDATED, probe_payload=probe, params=[
                version.workflow_id, pg_int_array([cid for cid, _ in changed]),
                pg_text_array([change for _, change in changed]),
                pg_int_array([contact_run[cid] for cid, _ in changed])],
                select="""SELECT c.contact_id, 'workflow:' || %s || ':' || c.run_id AS actor,
                                 jsonb_build_object('changes', c.changes::jsonb) AS payload,
                                 'contact' AS subject_type, c.contact_id AS subject_id
                            FROM unnest(%s::bigint[], %s::text[], %s::bigint[])
                                 AS c(contact_id, changes, run_id)""")
    if len(done_steps) < len(version.steps):
        return
    _events_insert(cursor, kind=EventKind.WORKFLOW_RUN, params=[
        version.workflow.name, summary, RunStatus.DONE, version.number, ids],
        select=f"""SELECT r.contact_id, 'workflow:' || r.workflow_id || ':' || r.id AS actor,
                          jsonb_build_object('workflow', %s::text, 'summary', %s::text, 'status', %s::text,
                                             'version', %s::int, 'run', r.id) AS payload,
                          'workflow_run' AS subject_type, r.id AS subject_id
                     FROM {runs_table} r WHERE r.id = ANY(%s::bigint[])""")
