"""Triggers: timeline events start runs or arm timers; due timers start runs.

Workflows consume the timeline's outbox (supportdesk.outbox, stream TIMELINE_STREAM). The
producer's hot path (OMS intake at thousands of events a second) asks `wants` of every
event, so it answers from a set of kinds cached in the process for a moment: events no
enabled workflow listens to get no outbox entry at all.

The loop guard: an event a run caused carries the run in its actor ("workflow:<id>:<run>").
Its chain is that run's chain plus its workflow; a workflow in the chain is not started
again by it (a workflow's own actions never re-trigger it), and a chain as long as the depth
limit starts nothing more, with a log line saying so.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from conversations.models import MESSAGE_RECEIVED, MESSAGE_STREAM, Message, MessageDirection
from supportdesk import backpressure, outbox
from supportdesk.conditions import condition_matches
from supportdesk.db import pg_int_array, pg_text_array
from supportdesk.models import OutboxEntry
from timeline.models import TIMELINE_STREAM, TimelineEvent
from workflows.attributes import contact_attributes
from workflows.definitions import TIMER, trigger_scopes
from workflows.models import Workflow, WorkflowRun, WorkflowTimer, WorkflowVersion
from workflows.services.runs import RunStarts, actor_run_id, run_start, runs_advance_batched
from workflows.subjects import CONTACT, CONVERSATION, ORDER, Subject, subject_attributes, subjects_load

log = logging.getLogger(__name__)

CONSUMER = "workflows.triggers"
MESSAGES_CONSUMER = "workflows.messages"  # inbound messages, as "message.received"
MESSAGE_EXCERPT_CHARS = 200
KINDS_TTL_SECONDS = 2.0
_kinds: tuple[float, frozenset[str]] | None = None


def listened_kinds() -> frozenset[str]:
    """The timeline kinds some enabled workflow listens to (cached for KINDS_TTL_SECONDS)."""
    global _kinds
    now = time.monotonic()
    if _kinds is not None and now - _kinds[0] < KINDS_TTL_SECONDS:
        return _kinds[1]
    rows = (WorkflowVersion.objects.filter(pk__in=Workflow.objects.filter(is_enabled=True)
                                           .values("current_version"))
            .values_list("event_kinds", flat=True))
    kinds = frozenset(kind for row in rows for kind in row)
    _kinds = (now, kinds)
    return kinds


def listened_kinds_clear() -> None:
    """Forget the cached kinds (a workflow was enabled, disabled or published here)."""
    global _kinds
    _kinds = None


def wants(event: TimelineEvent) -> bool:
    return event.kind in listened_kinds()


def message_wants(message: Message) -> bool:
    """An inbound message, while some enabled workflow listens to "message.received" (the
    chat's hot path asks this of every message: it answers from the cached kinds). Replies,
    notes and whatever a workflow sends are outbound: never "received" (the loop guard)."""
    return message.direction == MessageDirection.INBOUND and MESSAGE_RECEIVED in listened_kinds()


def triggers_kick() -> None:
    """A producer committed events some workflow listens to: drain them now (a task)."""
    from workflows import tasks  # noqa: PLC0415 (tasks import these services)

    tasks.triggers_kick()


def triggers_register() -> None:
    """Subscribe the triggers to the timeline and to the inbound messages (from the app's ready())."""
    outbox.consumer_register(name=CONSUMER, stream=TIMELINE_STREAM, handle=timeline_events_apply,
                             wants=wants, kick=triggers_kick)
    outbox.consumer_register(name=MESSAGES_CONSUMER, stream=MESSAGE_STREAM, handle=messages_apply,
                             wants=message_wants, kick=triggers_kick)
    backpressure.probe_register("workflows.triggers", triggers_behind)


def triggers_behind() -> bool:
    """More than WORKFLOWS_BACKLOG_LIMIT timeline events or received messages waiting for the
    triggers, or timers past due (the back-pressure probe: two index scans that stop there)."""
    limit = settings.WORKFLOWS_BACKLOG_LIMIT
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT (SELECT count(*) FROM (SELECT 1 FROM {connection.ops.quote_name(OutboxEntry._meta.db_table)}
                                           WHERE consumer = ANY(%s) AND parked_at IS NULL LIMIT %s) AS e),
                   (SELECT count(*) FROM (SELECT 1 FROM {connection.ops.quote_name(WorkflowTimer._meta.db_table)}
                                           WHERE due_at <= now() LIMIT %s) AS t)""",
                       [[CONSUMER, MESSAGES_CONSUMER], limit + 1, limit + 1])
        waiting, due = cursor.fetchone()
    return waiting > limit or due > limit


def triggers_drain(*, batch_size: int = 500) -> outbox.Drained:
    """Turn one batch of new timeline events, and one of received messages, into runs and
    timers (idempotent; parallel-safe)."""
    events = outbox.outbox_drain(consumer=CONSUMER, batch_size=batch_size)
    messages = outbox.outbox_drain(consumer=MESSAGES_CONSUMER, batch_size=batch_size)
    return outbox.Drained(handled=events.handled + messages.handled, failed=events.failed + messages.failed,
                          parked=events.parked + messages.parked)


def _enabled() -> dict[str, list[tuple[Workflow, WorkflowVersion]]]:
    by_kind: dict[str, list[tuple[Workflow, WorkflowVersion]]] = defaultdict(list)
    for workflow in Workflow.objects.filter(is_enabled=True, current_version__isnull=False) \
            .select_related("current_version"):
        for kind in workflow.current_version.event_kinds:
            by_kind[kind].append((workflow, workflow.current_version))
    return by_kind


def event_subject_ref(event: TimelineEvent) -> tuple[int, str, int | None]:
    if event.subject_type in (ORDER, CONVERSATION) and event.subject_id is not None:
        return (event.contact_id, event.subject_type, event.subject_id)
    return (event.contact_id, CONTACT, None)


def event_chains(events: list[TimelineEvent]) -> dict[int, list[int]]:
    """Each event's chain: the workflow ids whose runs led to it, oldest first ([] for events
    a person, the OMS or the desk caused)."""
    run_ids = {event.pk: run_id for event in events if (run_id := actor_run_id(event.actor or ""))}
    if not run_ids:
        return {}
    runs = {pk: [*chain, workflow_id] for pk, chain, workflow_id in
            WorkflowRun.objects.filter(pk__in=set(run_ids.values())).values_list("pk", "chain", "workflow_id")}
    return {event_id: runs.get(run_id, []) for event_id, run_id in run_ids.items()}


def chain_allows(workflow: Workflow, version: WorkflowVersion, chain: list[int], event: TimelineEvent) -> bool:
    if workflow.pk in chain:
        return False  # its own action, or a loop back to it
    limit = version.max_depth if version.max_depth is not None else settings.WORKFLOWS_MAX_CHAIN_DEPTH
    if len(chain) >= limit:
        log.warning("Workflow chain stopped at depth %s: %s not started by %s %s (chain of workflows %s)",
                    limit, workflow.key, event.kind, event.pk, " -> ".join(map(str, chain)))
        return False
    return True


def trigger_of(event: TimelineEvent) -> dict[str, Any]:
    return {"event": event.kind, "event_id": event.pk, "occurred_at": event.occurred_at.isoformat()}


def timeline_events_apply(event_ids: list[int]) -> None:
    """Start the runs and arm the timers these timeline events trigger (in the drain's
    transaction: exactly once per event; the run key makes it once per subject too)."""
    by_kind = _enabled()
    events = [event for event in TimelineEvent.objects.filter(pk__in=event_ids).order_by("pk")
              if by_kind.get(event.kind)]
    if not events:
        return
    now = timezone.now()
    chains = event_chains(events)
    subjects = subjects_load(event_subject_ref(event) for event in events)
    contacts = contact_attributes({event.contact_id for event in events}, now=now)
    with runs_advance_batched():
        _events_apply(events, by_kind, chains=chains, subjects=subjects, contacts=contacts, now=now)


def _events_apply(events: list[TimelineEvent], by_kind: dict[str, list[tuple[Workflow, WorkflowVersion]]], *,
                  chains: dict[int, list[int]], subjects: dict[Any, Subject], contacts: dict[int, Any],
                  now: datetime) -> None:
    arms: list[Arm] = []
    starts = RunStarts()
    for event in events:
        subject = subjects.get(event_subject_ref(event))
        if subject is None:
            continue
        chain = chains.get(event.pk, [])
        values = None
        for workflow, version in by_kind[event.kind]:
            if not chain_allows(workflow, version, chain, event):
                continue
            if version.trigger_type == TIMER:
                arms.append((workflow, version, subject, event, chain))
                continue
            if version.conditions:
                if values is None:
                    values = subject_attributes(subject, contact_values=contacts.get(event.contact_id), now=now)
                if not condition_matches(version.conditions, values):
                    continue
            starts.add(workflow=workflow, version=version, subject=subject, trigger=trigger_of(event),
                       chain=chain, trigger_event_id=event.pk, now=now)
    starts.flush()
    timers_arm(arms, now=now)


def message_variables(message: Message) -> dict[str, Any]:
    """The template variables a received message gives its run (workflows.templates.VARIABLES)."""
    return {"message.excerpt": message.body[:MESSAGE_EXCERPT_CHARS]}


def messages_apply(message_ids: list[int]) -> None:
    """Start the runs these received messages trigger, as "message.received" events on their
    conversation (in the drain's transaction: exactly once per message; the run key decides
    how often per conversation, by default once: "{workflow}:{message}" runs once a message)."""
    workflows = _enabled().get(MESSAGE_RECEIVED)
    if not workflows:
        return
    messages = list(Message.objects.filter(pk__in=message_ids, direction=MessageDirection.INBOUND)
                    .select_related("conversation").order_by("pk"))
    if not messages:
        return
    now = timezone.now()
    refs = {message.pk: (message.conversation.contact_id, CONVERSATION, message.conversation_id)
            for message in messages}
    subjects = subjects_load(refs.values())
    contacts = contact_attributes({message.conversation.contact_id for message in messages}, now=now)
    for message in messages:
        subject = subjects.get(refs[message.pk])
        if subject is None:
            continue
        values = None
        trigger = {"event": MESSAGE_RECEIVED, "message_id": message.pk, "conversation_id": message.conversation_id,
                   "occurred_at": message.created_at.isoformat(), "variables": message_variables(message)}
        for workflow, version in workflows:
            if version.trigger_type == TIMER:
                continue  # refused by the definition's checks; a version saved before is skipped
            if version.conditions:
                if values is None:
                    values = subject_attributes(subject, contact_values=contacts.get(subject.contact.pk), now=now)
                if not condition_matches(version.conditions, values):
                    continue
            # Not caused by a run (inbound), so it starts a chain of its own.
            run_start(workflow=workflow, version=version, subject=subject, trigger=trigger, chain=[],
                      message_id=message.pk, now=now)


# --- Timers --------------------------------------------------------------------------------


def timer_due(trigger: dict[str, Any], subject: Subject, event_at: datetime) -> datetime | None:
    """When a timer fires: N minutes after the event, or after a time on the record (None:
    the record has no such time, so nothing to wait for)."""
    delta = timedelta(minutes=trigger.get("minutes") or 0)
    if trigger.get("at") == "order.promised_at":
        if subject.order is None or subject.order.promised_at is None:
            return None
        return subject.order.promised_at + delta
    return event_at + delta


Arm = tuple[Workflow, WorkflowVersion, Subject, TimelineEvent, list]


def timers_arm(arms: list[Arm], *, now: datetime) -> None:
    """Arm (or move) each workflow's timer for its subject, in event order, in two statements:
    a newer event re-arms a timer (a promised time moved later moves it), and where one
    subject's timer is armed twice in a batch the later event's arming wins. One task after
    commit fires the soonest (it fires whatever else is due by then; the tick the rest)."""
    latest: dict[tuple[int, int, str, int | None], tuple[datetime | None, Arm]] = {}
    for arm in arms:
        workflow, version, subject, event, _chain = arm
        identity = (workflow.pk, subject.contact.pk, subject.subject_type, subject.subject_id)
        latest.pop(identity, None)  # re-inserted: the dict keeps the order of the last arming
        latest[identity] = (timer_due(version.trigger, subject, event.occurred_at), arm)
    gone = [identity for identity, (due, _arm) in latest.items() if due is None]
    if gone:
        query = Q()
        for workflow_id, contact_id, subject_type, subject_id in gone:
            query |= Q(workflow_id=workflow_id, contact_id=contact_id, subject_type=subject_type,
                       subject_id=subject_id)
        WorkflowTimer.objects.filter(query).delete()
    armed = [(workflow.pk, subject.contact.pk, subject.subject_type, subject.subject_id, due,
              json.dumps(trigger_of(event)), event.pk, pg_int_array(chain))
             for due, (workflow, _version, subject, event, chain) in latest.values() if due is not None]
    if not armed:
        return
    workflow_ids, contact_ids, subject_types, subject_ids, dues, triggers, event_ids, chains = zip(
        *armed, strict=True)
    # Column arrays, unnested: a short statement whatever the number of timers; as literals
    # (pg_int_array, pg_text_array), which cost far less in Python than psycopg's lists.
    columns = [pg_int_array(workflow_ids), pg_int_array(contact_ids), pg_text_array(subject_types),
               pg_int_array(subject_ids), pg_text_array([due.isoformat() for due in dues]),
               pg_text_array(triggers), pg_int_array(event_ids), pg_text_array(chains)]
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {connection.ops.quote_name(WorkflowTimer._meta.db_table)} AS t
                   (workflow_id, contact_id, subject_type, subject_id, due_at, trigger, trigger_event_id, chain,
                    created_at, updated_at)
            SELECT a.workflow_id, a.contact_id, a.subject_type, a.subject_id, a.due_at, a.trigger::jsonb,
                   a.trigger_event_id, a.chain::integer[], now(), now()
              FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::timestamptz[], %s::text[],
                          %s::bigint[], %s::text[])
                   AS a(workflow_id, contact_id, subject_type, subject_id, due_at, trigger, trigger_event_id,
                        chain)
            ON CONFLICT (workflow_id, contact_id, subject_type, subject_id)
            DO UPDATE SET due_at = excluded.due_at, trigger = excluded.trigger,
                          trigger_event_id = excluded.trigger_event_id, chain = excluded.chain,
                          updated_at = excluded.updated_at""", columns)
    seconds = (min(dues) - now).total_seconds()
    if seconds < 60:
        from workflows import tasks  # noqa: PLC0415 (tasks import these services)

        transaction.on_commit(lambda: tasks.timers_fire_enqueue(countdown=max(seconds, 0)))


def timers_fire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Fire the timers that are due: a run for each whose conditions still hold now. The
    number of timers handled (parallel-safe: each worker takes timers no other holds)."""
    now = now or timezone.now()
    with transaction.atomic():
        # The timers' own columns only, and their few workflows once: not a workflow and a
        # version (their JSON and times decoded) per timer.
        timers = list(WorkflowTimer.objects.select_for_update(skip_locked=True).filter(due_at__lte=now)
                      .only("workflow_id", "contact_id", "subject_type", "subject_id", "due_at", "trigger",
                            "trigger_event_id", "chain")
                      .order_by("due_at")[:limit])
        if not timers:
            return 0
        workflows = Workflow.objects.select_related("current_version").in_bulk(
            {timer.workflow_id for timer in timers})
        WorkflowTimer.objects.filter(pk__in=[timer.pk for timer in timers]).delete()
        subjects = subjects_load(_timer_ref(timer) for timer in timers)
        contacts = contact_attributes({timer.contact_id for timer in timers}, now=now)
        with runs_advance_batched():
            _timers_apply(timers, workflows=workflows, subjects=subjects, contacts=contacts, now=now)
    return len(timers)


def _timers_apply(timers: list[WorkflowTimer], *, workflows: dict[int, Workflow], subjects: dict[Any, Subject],
                  contacts: dict[int, Any], now: datetime) -> None:
    starts = RunStarts()
    values_of: dict[tuple[int, str, int | None], dict[str, Any]] = {}  # a subject's, once for its timers
    for timer in timers:
        workflow = workflows.get(timer.workflow_id)  # None: deleted meanwhile, with its timers
        version = workflow.current_version if workflow is not None else None
        if workflow is None or not workflow.is_enabled or version is None or version.trigger_type != TIMER:
            continue
        ref = _timer_ref(timer)
        subject = subjects.get(ref)
        if subject is None:
            continue
        if version.conditions:
            values = values_of.get(ref)
            if values is None:
                values = values_of[ref] = subject_attributes(
                    subject, contact_values=contacts.get(timer.contact_id), now=now)
            if not condition_matches(version.conditions, values):
                continue
        trigger = {**timer.trigger, "timer_due_at": timer.due_at.isoformat(), "fired_at": now.isoformat()}
        starts.add(workflow=workflow, version=version, subject=subject, trigger=trigger, chain=timer.chain,
                   trigger_event_id=timer.trigger_event_id, now=now)
    starts.flush()


def _timer_ref(timer: WorkflowTimer) -> tuple[int, str, int | None]:
    return (timer.contact_id, timer.subject_type, timer.subject_id if timer.subject_type != CONTACT else None)


def next_timer_at() -> datetime | None:
    return WorkflowTimer.objects.order_by("due_at").values_list("due_at", flat=True).first()


__all__ = ["CONSUMER", "MESSAGES_CONSUMER", "listened_kinds", "listened_kinds_clear", "message_variables",
           "message_wants", "messages_apply", "timeline_events_apply", "timers_arm", "timers_fire",
           "trigger_scopes", "triggers_drain", "triggers_register", "wants"]
