"""The dry run: what a draft (or a published version) would have done over the last N days,
writing nothing.

It replays the timeline events of its trigger's kinds (a schedule: the segment's members
now) through the conditions, the run key, the per-contact limit and the loop guard, and
describes each step instead of doing it. Conditions are tested against the contacts and
orders as they are now (the timeline keeps events, not every past state of a record), which
the page says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.models import MESSAGE_RECEIVED, Message, MessageDirection
from supportdesk.conditions import condition_matches
from timeline.models import TimelineEvent
from workflows import registry
from workflows.attributes import contact_attributes
from workflows.definitions import (
    SCHEDULE,
    TIMER,
    Definition,
    definition_errors,
    definition_from,
    definition_of,
    known_kinds,
    run_key_render,
)
from workflows.models import WorkflowVersion
from workflows.services.publish import DefinitionInvalid
from workflows.services.triggers import event_chains, event_subject_ref, message_variables, timer_due
from workflows.subjects import CONVERSATION, Subject, subject_attributes, subject_variables, subjects_load

MAX_EVENTS = 20_000
MAX_RESULTS = 1_000
DRAFT_WORKFLOW_ID = 0  # a draft has no id yet: its run keys use 0


@dataclass
class WouldRun:
    contact_id: int
    contact_name: str
    subject_type: str
    subject_id: int
    trigger: str  # the event kind, or the schedule
    at: datetime  # when it would have started (the event's time, the timer's due time)
    steps: list[str] = field(default_factory=list)
    skipped_by_limit: bool = False


def dry_run(definition: dict[str, Any] | WorkflowVersion, *, days: int, now: datetime | None = None,
            max_results: int = MAX_RESULTS) -> list[WouldRun]:
    """The runs a definition would have started over the last `days` days, oldest first,
    with what each would have done. Writes nothing (and rolls back, should a step's
    description have touched anything)."""
    if isinstance(definition, WorkflowVersion):
        parsed, workflow_id = definition_of(definition), definition.workflow_id
    else:
        errors = definition_errors(definition, known_kinds=known_kinds())
        if errors:
            raise DefinitionInvalid(errors)
        parsed, workflow_id = definition_from(definition), DRAFT_WORKFLOW_ID
    now = now or timezone.now()
    since = now - timedelta(days=max(int(days), 0))
    with transaction.atomic():
        result = _replay(parsed, workflow_id=workflow_id, since=since, now=now, max_results=max_results)
        transaction.set_rollback(True)
    return result


def _candidates(parsed: Definition, *, since: datetime, now: datetime):
    """(subject ref, trigger name, start time, chain) per would-be run, oldest first."""
    if parsed.trigger_type == SCHEDULE:
        from workflows.services.schedules import segment_member_ids  # noqa: PLC0415

        for index, contact_id in enumerate(segment_member_ids(parsed.trigger["segment"])):
            if index >= MAX_EVENTS:
                break
            yield (contact_id, "contact", None), parsed.trigger.get("cron", ""), now, []
        return
    events = list(TimelineEvent.objects.filter(kind__in=parsed.event_kinds, occurred_at__gte=since)
                  .order_by("occurred_at", "pk")[:MAX_EVENTS])
    chains = event_chains(events)
    candidates = [(event_subject_ref(event), event.kind, event.occurred_at, chains.get(event.pk, []), event)
                  for event in events]
    if MESSAGE_RECEIVED in parsed.event_kinds:
        # Received messages are not on the timeline: replayed from the messages themselves.
        messages = (Message.objects.filter(direction=MessageDirection.INBOUND, created_at__gte=since)
                    .select_related("conversation").order_by("created_at", "pk")[:MAX_EVENTS])
        candidates += [((message.conversation.contact_id, CONVERSATION, message.conversation_id), MESSAGE_RECEIVED,
                        message.created_at, [], message) for message in messages]
        candidates.sort(key=lambda candidate: candidate[2])
    yield from candidates[:MAX_EVENTS]


def _replay(parsed: Definition, *, workflow_id: int, since: datetime, now: datetime,
            max_results: int) -> list[WouldRun]:
    from django.conf import settings  # noqa: PLC0415

    depth = parsed.max_depth if parsed.max_depth is not None else settings.WORKFLOWS_MAX_CHAIN_DEPTH
    candidates = [candidate for candidate in _candidates(parsed, since=since, now=now)
                  if len(candidate[3]) < depth and workflow_id not in candidate[3]]
    subjects = subjects_load(candidate[0] for candidate in candidates)
    contacts = contact_attributes({ref[0] for ref, *_ in candidates}, now=now)
    if parsed.trigger_type == TIMER:
        # A timer is re-armed by each newer event of its subject: the last one counts.
        latest = {}
        for candidate in candidates:
            latest[candidate[0]] = candidate
        candidates = sorted(latest.values(), key=lambda c: c[2])
    keys: set[str] = set()
    per_contact: Counter[int] = Counter()
    would: list[WouldRun] = []
    for ref, trigger, at, _chain, *source in candidates:
        message = source[0] if source and isinstance(source[0], Message) else None
        subject = subjects.get(ref)
        if subject is None:
            continue
        if parsed.trigger_type == TIMER:
            at = timer_due(parsed.trigger, subject, at)
            if at is None:
                continue
        key = run_key_render(parsed.run_key, workflow_id=workflow_id, contact_id=subject.contact.pk,
                             subject_type=subject.subject_type, subject_id=subject.subject_id,
                             fired=at.isoformat() if parsed.trigger_type == SCHEDULE else "",
                             message=message.pk if message is not None else None)
        if key in keys:
            continue
        if parsed.conditions and not condition_matches(
                parsed.conditions, subject_attributes(subject, contact_values=contacts.get(ref[0]), now=now)):
            continue
        keys.add(key)
        limited = bool(parsed.limit_count and parsed.limit_days
                       and per_contact[subject.contact.pk] >= parsed.limit_count)
        if not limited:
            per_contact[subject.contact.pk] += 1
        would.append(WouldRun(
            contact_id=subject.contact.pk, contact_name=str(subject.contact), subject_type=subject.subject_type,
            subject_id=subject.subject_id, trigger=trigger, at=at, skipped_by_limit=limited,
            steps=[] if limited else _steps(parsed, subject, workflow_id=workflow_id, now=now,
                                            variables=message_variables(message) if message else None)))
        if len(would) >= max_results:
            break
    return would


def _steps(parsed: Definition, subject: Subject, *, workflow_id: int, now: datetime,
           variables: dict[str, Any] | None = None) -> list[str]:
    variables = {**subject_variables(subject), **(variables or {})}
    described = []
    for position, step in enumerate(parsed.steps):
        action = registry.action(step.get("action", ""))
        params = step.get("params") or {}
        if action is None:
            described.append(_("unknown action %(action)s") % {"action": step.get("action")})
            continue
        context = registry.StepContext(
            workflow_id=workflow_id, run_id=None, position=position, contact=subject.contact,
            order=subject.order, conversation=subject.conversation, idempotency_key="dry-run", actor="",
            variables=variables, now=now, dry_run=True)
        try:
            described.append(str(action.describe(params, context)) if action.describe else str(action.label))
        except Exception as error:  # noqa: BLE001 (a description that fails says so, the rest goes on)
            described.append(_("%(action)s (cannot describe: %(error)s)")
                             % {"action": action.label, "error": error})
    return described
