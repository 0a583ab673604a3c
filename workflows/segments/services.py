"""Segments' use cases: save (and fill), keep members up to date from the timeline's events,
add and remove by hand, preview, and feed a routing queue.

(Kept whole for now: every use case here goes through `_apply`, the one membership
statement; preview and feeding are the parts to move out next. Which events the consumer
needs is `workflows.segments.interest`.)

Membership is a table (`SegmentMember`), kept up to date two ways that share one SQL
statement (`_apply`):

- incrementally: a consumer of the timeline's outbox stream re-evaluates, for every active
  segment, only the contacts a drained batch of events touched (one statement per segment
  per batch, whatever the batch's size), and records `segment.entered` / `segment.left`;
- in full, set-based (INSERT ... SELECT, DELETE ... anti-join) when a segment is created or
  its conditions change, and periodically for conditions over time windows ("a
  conversation in the last 30 days" stops holding without any event).

A segment's first fill records no entered events: defining a segment is not something that
happened to each of its (possibly millions of) contacts. Later refreshes do record them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from supportdesk import outbox
from supportdesk.advisory_locks import SEGMENT_MEMBERSHIP as SEGMENT_MEMBERSHIP_LOCK
from supportdesk.conditions import condition_errors
from supportdesk.errors import NotFound
from timeline import events
from timeline.models import Contact, TimelineEvent
from workflows import attributes
from workflows.registry import StepFailed
from workflows.segments import interest
from workflows.segments.interest import ACTIVE_CACHE_SECONDS, IGNORED_KINDS, active_segments_clear
from workflows.segments.models import Segment, SegmentMember
from workflows.segments.sql import (
    CUSTOM_PREFIX,
    UnsupportedCondition,
    _number,
    segment_sql,
    segments_matrix_sql,
    sql_attribute_known,
    windowed_attribute,
)

log = logging.getLogger(__name__)

MEMBERSHIP_CONSUMER = "workflows.segments"  # the consumer's name in the outbox
# Kinds that never change a membership (and those the consumer writes itself: no loop).
PREVIEW_TIMEOUT_MS = 15_000  # an admin's preview gives up rather than holding a connection
EVENT_CHUNK = 1000
ANALYZE_AFTER_CHANGES = 10_000


# --- validation -----------------------------------------------------------------------------


def segment_attribute_names() -> list[str]:
    """What the admin lists as usable attributes."""
    return [*sorted(attributes.catalogue((attributes.CONTACT,))),
            "contact.conversations_last_<N>_days", "contact.delayed_orders_last_<N>_days",
            "contact.low_ratings_last_<N>_days", f"{CUSTOM_PREFIX}<name>"]


def segment_conditions_errors(conditions: Any) -> list[str]:
    """Everything wrong with a segment's conditions, [] when they are valid: the workflows'
    contact conditions (same attributes, same type checks), plus counts over any window of
    days. An empty condition ({}) is valid: a segment filled by hand or by workflows."""
    if conditions in ({}, None):
        return []
    errors = condition_errors(conditions)
    if errors:
        return errors
    return list(_leaf_errors(conditions, "condition"))


def _leaf_errors(condition: Mapping[str, Any], path: str) -> Iterable[str]:
    for group in ("all", "any"):
        if group in condition:
            for index, part in enumerate(condition[group]):
                yield from _leaf_errors(part, f"{path}.{group}[{index}]")
            return
    name, op = condition["attribute"], condition["op"]
    kind = attributes.attribute_type(name, (attributes.CONTACT,))
    if kind is None and windowed_attribute(name) is not None:
        kind = attributes.NUMBER
    if kind is None or not sql_attribute_known(name):
        yield _("%(path)s.attribute: unknown attribute %(name)r; use one of %(known)s.") % {
            "path": path, "name": name, "known": ", ".join(segment_attribute_names())}
        return
    if op not in attributes.TYPE_OPERATORS[kind]:
        yield _("%(path)s.op: %(op)s does not fit %(name)s (%(type)s); use one of %(ops)s.") % {
            "path": path, "op": op, "name": name, "type": kind,
            "ops": ", ".join(sorted(attributes.TYPE_OPERATORS[kind]))}
        return
    if op == "exists":
        return
    value = condition.get("value")
    for item in value if op in ("in", "not_in") else [value]:
        fits = {attributes.NUMBER: _number(item) is not None, attributes.BOOLEAN: isinstance(item, bool),
                attributes.STRING: isinstance(item, str), attributes.LIST: isinstance(item, str)}.get(kind, True)
        if not fits:
            yield _("%(path)s.value: %(value)r is not a %(type)s, as %(name)s is.") % {
                "path": path, "value": item, "type": kind, "name": name}
            return


# --- the member list other parts read ---------------------------------------------------------


def segment_member_ids(segment_id: int) -> QuerySet:
    """The contact ids of a segment's members, ascending (a queryset: iterate it, or use it
    as a subquery, e.g. `Contact.objects.filter(id__in=segment_member_ids(s))`)."""
    return (SegmentMember.objects.filter(segment_id=segment_id).order_by("contact_id")
            .values_list("contact_id", flat=True))


# --- applying the conditions ------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    entered: list[int]
    left: list[int]


def _apply(segment: Segment, *, contact_ids: Sequence[int] | None) -> Changes:
    """Make the members match the conditions, for these contacts (all when None), in one
    statement: matching contacts inserted (or marked matched when added by hand), members
    that no longer match deleted (or, added by hand, kept unmatched)."""
    quote = connection.ops.quote_name
    table = quote(SegmentMember._meta.db_table)
    compiled = segment_sql(segment.conditions if segment.is_active else {}, contact_ids=contact_ids)
    matching, params = compiled.select("c.id")
    params.update(segment_id=segment.pk, now=timezone.now())
    # The members to look at: those of the contacts given, found through the unique index
    # (a join, not `= ANY(...)`, which the planner may turn into a filter over every member).
    touched, members = "", f"SELECT contact_id, manual, matched FROM {table} WHERE segment_id = %(segment_id)s"
    if contact_ids is not None:
        touched = "touched AS (SELECT DISTINCT unnest(%(contact_ids)s::bigint[]) AS id),"
        members = (f"SELECT m.contact_id, m.manual, m.matched FROM touched JOIN {table} m "
                   "ON m.segment_id = %(segment_id)s AND m.contact_id = touched.id")
        params["contact_ids"] = list(contact_ids)
    # The difference between the members and the matching contacts, by a FULL JOIN: PostgreSQL
    # runs one only as a hash or merge join, so a refresh over a million members stays linear
    # even when the table's statistics are stale (an anti-join planned as a nested loop over
    # the matching contacts took hours). Only what changes is written.
    sql = f"""
        WITH {touched} matching AS ({matching}),
        diff AS MATERIALIZED (
            SELECT x.id AS add_id, m.contact_id AS member_id, m.manual
              FROM matching x FULL JOIN ({members}) m ON m.contact_id = x.id
             WHERE x.id IS NULL OR m.contact_id IS NULL OR NOT m.matched
        ),
        upserted AS (
            INSERT INTO {table} AS m (segment_id, contact_id, matched, manual, entered_at)
            SELECT %(segment_id)s, add_id, TRUE, FALSE, %(now)s FROM diff WHERE add_id IS NOT NULL
            ON CONFLICT (segment_id, contact_id) DO UPDATE SET matched = TRUE WHERE m.matched = FALSE
            RETURNING m.contact_id, (m.xmax = 0) AS inserted
        ),
        dropped AS (
            DELETE FROM {table} m USING diff
             WHERE diff.add_id IS NULL AND NOT diff.manual
               AND m.segment_id = %(segment_id)s AND m.contact_id = diff.member_id AND NOT m.manual
            RETURNING m.contact_id
        ),
        unmatched AS (
            UPDATE {table} m SET matched = FALSE FROM diff
             WHERE diff.add_id IS NULL AND diff.manual
               AND m.segment_id = %(segment_id)s AND m.contact_id = diff.member_id AND m.manual AND m.matched
            RETURNING m.contact_id
        )
        SELECT contact_id, TRUE FROM upserted WHERE inserted
        UNION ALL SELECT contact_id, FALSE FROM dropped
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return Changes(entered=sorted(cid for cid, entered in rows if entered),
                   left=sorted(cid for cid, entered in rows if not entered))


def _record(segment: Segment, changes: Changes, *, actor: str) -> None:
    """The entered / left events on the contacts' timelines, in bulk."""
    now = timezone.now()
    for kind, contact_ids in (("entered", changes.entered), ("left", changes.left)):
        writer = events.segment_entered_event if kind == "entered" else events.segment_left_event
        for start in range(0, len(contact_ids), EVENT_CHUNK):
            with events.buffered():
                for contact_id in contact_ids[start:start + EVENT_CHUNK]:
                    writer(contact_id=contact_id, segment_id=segment.pk, segment_key=segment.key,
                           segment_name=segment.name, occurred_at=now, actor=actor)


def _after(segment: Segment, changes: Changes, *, actor: str, record: bool = True) -> None:
    if record:
        _record(segment, changes, actor=actor)
    if segment.feed_queue_id and changes.entered:
        from workflows.segments import tasks  # tasks import the services

        ids = list(changes.entered)
        transaction.on_commit(lambda: tasks.segment_feed_enqueue(segment.pk, ids))


def segment_refresh(*, segment_id: int, record_events: bool = True, actor: str = "system") -> Changes:
    """Evaluate the segment over every contact, set-based (after an edit; periodically)."""
    with transaction.atomic():
        segment = Segment.objects.select_for_update(of=("self",)).select_related("feed_queue").get(pk=segment_id)
        started = time.monotonic()
        changes = _apply(segment, contact_ids=None)
        Segment.objects.filter(pk=segment.pk).update(refreshed_at=timezone.now())
        if len(changes.entered) + len(changes.left) >= ANALYZE_AFTER_CHANGES:
            with connection.cursor() as cursor:  # so the planner knows the table's new size
                cursor.execute(f"ANALYZE {connection.ops.quote_name(SegmentMember._meta.db_table)}")
        _after(segment, changes, actor=actor, record=record_events)
    log.info("Segment %s refreshed in %.1f s: %s entered, %s left", segment.key,
             time.monotonic() - started, len(changes.entered), len(changes.left))
    return changes


def segment_save(*, segment: Segment, actor: str = "system", refresh_now: bool = True) -> Changes | None:
    """Create or change a segment and bring its members in line: at once (the Changes), or
    with `refresh_now=False` in a task after commit (None; the admin does that: a fill over
    millions of contacts takes longer than a page should). A new segment's first fill
    records no events (see the module's note); a change's refresh does."""
    errors = segment_conditions_errors(segment.conditions)
    if errors:
        raise UnsupportedCondition(" ".join(errors))
    with transaction.atomic():
        created = segment.pk is None
        was_active = not created and Segment.objects.filter(pk=segment.pk, is_active=True).exists()
        segment.save()
        if segment.is_active and not was_active:
            # Other processes may still believe no segment is active for a few seconds and
            # write events without entries for segments: a second refresh catches those.
            from workflows.segments import tasks  # tasks import the services

            segment_id = segment.pk
            transaction.on_commit(lambda: tasks.segment_refresh.apply_async(
                (segment_id,), countdown=ACTIVE_CACHE_SECONDS + 1))
        if refresh_now:
            changes = segment_refresh(segment_id=segment.pk, record_events=not created, actor=actor)
        else:
            from workflows.segments import tasks  # tasks import the services

            segment_id = segment.pk
            transaction.on_commit(lambda: tasks.segment_refresh.delay(segment_id, record_events=not created,
                                                                      actor=actor))
            changes = None
    active_segments_clear()
    return changes


def segments_evaluate(contact_ids: Sequence[int], *, actor: str = "system") -> dict[int, Changes]:
    """Re-evaluate these contacts against every active segment (the consumer's work): one
    query answers every segment for every contact, one reads their memberships, and only
    what changed is written. The cost grows with the contacts and the changes, barely with
    the number of segments."""
    contact_ids = sorted(set(contact_ids))
    segments = [segment for segment in Segment.objects.filter(is_active=True).select_related("feed_queue")
                .order_by("pk") if _evaluable(segment)]
    if not contact_ids or not segments:
        return {}
    sql, params = segments_matrix_sql([segment.conditions for segment in segments], contact_ids=contact_ids)
    quote = connection.ops.quote_name
    table = quote(SegmentMember._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        holds = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(f"""
            SELECT m.segment_id, m.contact_id, m.matched, m.manual
              FROM {table} m JOIN unnest(%s::bigint[]) AS touched(id) ON m.contact_id = touched.id
             WHERE m.segment_id = ANY(%s)
        """, [contact_ids, [segment.pk for segment in segments]])
        rows = {(segment_id, contact_id): (matched, manual)
                for segment_id, contact_id, matched, manual in cursor.fetchall()}
    enter: list[tuple[int, int]] = []  # (segment, contact): no row yet, conditions hold
    rematch: list[tuple[int, int, bool]] = []  # a manual member's matched flag flips
    leave: list[tuple[int, int]] = []  # matched, not manual, conditions no longer hold
    for position, segment in enumerate(segments):
        for contact_id in contact_ids:
            answers = holds.get(contact_id)
            now_holds = bool(answers[position]) if answers is not None else False
            row = rows.get((segment.pk, contact_id))
            if row is None:
                if now_holds:
                    enter.append((segment.pk, contact_id))
            elif row[0] != now_holds:
                if row[1]:
                    rematch.append((segment.pk, contact_id, now_holds))
                elif not now_holds:
                    leave.append((segment.pk, contact_id))
    entered, left = _members_write(enter=enter, rematch=rematch, leave=leave)
    results: dict[int, Changes] = {}
    for segment in segments:
        changes = Changes(entered=sorted(entered.get(segment.pk, [])), left=sorted(left.get(segment.pk, [])))
        if changes.entered or changes.left:
            _after(segment, changes, actor=actor)
        results[segment.pk] = changes
    return results


def _evaluable(segment: Segment) -> bool:
    try:
        segment_sql(segment.conditions)
    except (UnsupportedCondition, KeyError, TypeError):
        log.error("Segment %s has conditions segments cannot evaluate; skipped", segment.key)
        return False
    return True


def _members_write(*, enter: list[tuple[int, int]], rematch: list[tuple[int, int, bool]],
                   leave: list[tuple[int, int]]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Apply the changes in three statements; who entered and who left, per segment (a row
    someone else wrote in between, a manual add, is not counted twice)."""
    table = connection.ops.quote_name(SegmentMember._meta.db_table)
    entered: dict[int, list[int]] = {}
    left: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        if enter:
            cursor.execute(f"""
                INSERT INTO {table} AS m (segment_id, contact_id, matched, manual, entered_at)
                SELECT segment_id, contact_id, TRUE, FALSE, %s FROM unnest(%s::bigint[], %s::bigint[])
                       AS changes(segment_id, contact_id)
                ON CONFLICT (segment_id, contact_id) DO UPDATE SET matched = TRUE
                RETURNING m.segment_id, m.contact_id, (m.xmax = 0)
            """, [timezone.now(), [s for s, _ in enter], [c for _, c in enter]])
            for segment_id, contact_id, inserted in cursor.fetchall():
                if inserted:
                    entered.setdefault(segment_id, []).append(contact_id)
        if rematch:
            cursor.execute(f"""
                UPDATE {table} m SET matched = changes.matched
                  FROM unnest(%s::bigint[], %s::bigint[], %s::boolean[])
                       AS changes(segment_id, contact_id, matched)
                 WHERE m.segment_id = changes.segment_id AND m.contact_id = changes.contact_id
            """, [[s for s, _, _ in rematch], [c for _, c, _ in rematch], [h for _, _, h in rematch]])
        if leave:
            cursor.execute(f"""
                DELETE FROM {table} m USING unnest(%s::bigint[], %s::bigint[]) AS changes(segment_id, contact_id)
                 WHERE m.segment_id = changes.segment_id AND m.contact_id = changes.contact_id AND NOT m.manual
                RETURNING m.segment_id, m.contact_id
            """, [[s for s, _ in leave], [c for _, c in leave]])
            for segment_id, contact_id in cursor.fetchall():
                left.setdefault(segment_id, []).append(contact_id)
    return entered, left


# --- the consumer of the timeline's events -----------------------------------------------------


def membership_apply(event_ids: list[int]) -> None:
    """Outbox handler: the contacts these timeline events happened to, re-evaluated."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT contact_id FROM {connection.ops.quote_name(TimelineEvent._meta.db_table)} "
            "WHERE id = ANY(%s) AND NOT kind = ANY(%s)", [list(event_ids), sorted(IGNORED_KINDS)])
        contact_ids = sorted({contact_id for (contact_id,) in cursor.fetchall()})
    segments_evaluate(contact_ids)


def membership_register() -> None:
    """Subscribe to the timeline's stream (from the app's ready())."""
    outbox.consumer_register(name=MEMBERSHIP_CONSUMER, stream=events.TIMELINE_STREAM,
                             handle=membership_apply, wants=interest.wanted)


def membership_drain(*, batch_size: int = 2000, max_batches: int = 50) -> int:
    """Apply the timeline's new events to the segments, batch after batch until none is
    left (or `max_batches`); the number of events applied. One drainer at a time (the
    others return 0 at once), so two never evaluate one contact from different moments."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SEGMENT_MEMBERSHIP_LOCK])
        if not cursor.fetchone()[0]:
            return 0
    try:
        handled = 0
        for _ in range(max_batches):
            drained = outbox.outbox_drain(consumer=MEMBERSHIP_CONSUMER, batch_size=batch_size)
            handled += drained.handled
            if drained.failed or drained.handled + drained.failed < batch_size:
                break
        return handled
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SEGMENT_MEMBERSHIP_LOCK])


# --- by hand (and the workflow action "add to segment") ----------------------------------------


class SegmentNotFound(NotFound, StepFailed):
    """No such segment or contact: a 404 at an API's door, and a permanent failure (not a
    retry) for the workflow step that asked."""



def segment_add(segment_id: int, contact_id: int, *, actor: str) -> bool:
    """Add a contact by hand: they stay until removed, whatever the conditions say.
    Idempotent; True when they entered the segment now (an entered event is recorded)."""
    quote = connection.ops.quote_name
    with transaction.atomic():
        segment = Segment.objects.select_related("feed_queue").filter(pk=segment_id).first()
        if segment is None:
            raise SegmentNotFound(_("There is no segment %(id)s.") % {"id": segment_id}, code="segment_not_found")
        if not Contact.objects.filter(pk=contact_id).exists():
            raise SegmentNotFound(_("There is no contact %(id)s.") % {"id": contact_id}, code="contact_not_found")
        with connection.cursor() as cursor:
            cursor.execute(f"""
                INSERT INTO {quote(SegmentMember._meta.db_table)} AS m
                       (segment_id, contact_id, matched, manual, entered_at)
                VALUES (%s, %s, FALSE, TRUE, %s)
                ON CONFLICT (segment_id, contact_id) DO UPDATE SET manual = TRUE
                RETURNING (m.xmax = 0)
            """, [segment.pk, contact_id, timezone.now()])
            entered = bool(cursor.fetchone()[0])
        if entered:
            _after(segment, Changes(entered=[contact_id], left=[]), actor=actor)
    return entered


def segment_remove(segment_id: int, contact_id: int, *, actor: str) -> bool:
    """Take back a manual add: the contact leaves unless the conditions hold for them.
    True when they left the segment now."""
    with transaction.atomic():
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is None:
            raise SegmentNotFound(_("There is no segment %(id)s.") % {"id": segment_id}, code="segment_not_found")
        member = SegmentMember.objects.select_for_update().filter(
            segment_id=segment_id, contact_id=contact_id).first()
        if member is None or not member.manual:
            return False
        if member.matched:
            SegmentMember.objects.filter(pk=member.pk).update(manual=False)
            return False
        member.delete()
        _record(segment, Changes(entered=[], left=[contact_id]), actor=actor)
    return True


# --- previews ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Contact]


def segment_preview(conditions: Mapping[str, Any], *, sample_size: int = 10) -> Preview:
    """How many contacts the conditions hold for now, and a few of them (the newest), in two
    queries over the contacts, bounded by a statement timeout."""
    compiled = segment_sql(conditions)
    count_sql, params = compiled.select("count(*)")
    sample_sql, sample_params = compiled.select("c.id")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {int(PREVIEW_TIMEOUT_MS)}")
        cursor.execute(count_sql, params)
        count = cursor.fetchone()[0]
        cursor.execute(f"{sample_sql} ORDER BY c.id DESC LIMIT %(limit)s", {**sample_params, "limit": sample_size})
        ids = [row[0] for row in cursor.fetchall()]
    contacts = Contact.objects.in_bulk(ids)
    return Preview(count=count, sample=[contacts[i] for i in ids if i in contacts])


def segment_member_count(segment_id: int) -> int:
    return SegmentMember.objects.filter(segment_id=segment_id).count()


# --- feeding a routing queue --------------------------------------------------------------------


def segment_feed_key(segment_id: int, contact_id: int) -> str:
    return f"segment:{segment_id}:contact:{contact_id}"


def segment_feed(*, segment_id: int, contact_ids: Sequence[int]) -> int:
    """Open one audit task per member in the segment's queue (idempotent on segment and
    contact: a member fed before is not fed again); the number of tasks opened or found."""
    from conversations.services import task_open

    segment = Segment.objects.select_related("feed_queue").get(pk=segment_id)
    if segment.feed_queue is None or not segment.is_active:
        return 0
    members = list(SegmentMember.objects.filter(segment_id=segment_id, contact_id__in=list(contact_ids))
                   .order_by("contact_id").values_list("contact_id", flat=True))
    subject = _("Audit: %(segment)s") % {"segment": segment.name}
    body = _("This contact entered the segment %(segment)s. Review their recent orders and "
             "conversations and act where needed.") % {"segment": segment.name}
    for contact_id in members:
        task_open(contact_id=contact_id, queue_key=segment.feed_queue.key, subject=subject, body=body,
                  idempotency_key=segment_feed_key(segment.pk, contact_id), actor=f"segment:{segment.key}")
    return len(members)
