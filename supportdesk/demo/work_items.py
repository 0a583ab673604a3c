"""The past conversations' work items and routing history, written in bulk from their plans
(`supportdesk.demo.work_plans`) as routing would have recorded them: each item in the queue
routing's rules give the conversation (`route_find`, with the attributes conversations route
on), its history (WorkItemEvent), and the steps of it a contact's timeline shows (routing.<kind>).

Like the rest of the bulk history these rows get no outbox entries: nothing reacts to the
past. So the copier of routing's history to the timeline (conversations.routing_history)
never sees them, and their timeline entries are written here, as it would have written them,
so the agent's view of a past conversation shows who took it, when, and how it ended, as it
does for live ones. The reports' counters are worked out from all of it at the end of the
seeding (`reports.demo`, a step run by `supportdesk.seeding`).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from psycopg.types.json import Jsonb

from conversations.models import Conversation
from conversations.services import routing_attributes
from routing import service_levels
from routing import services as routing
from routing.models import WorkItem, WorkItemEvent, WorkItemEventKind
from supportdesk.demo.agents import AGENTS
from supportdesk.demo.bulk import copy_rows
from supportdesk.demo.plans import ContactPlan, ConversationPlan
from supportdesk.demo.staff import Staff
from supportdesk.demo.work_plans import WorkPlan, WorkStep
from timeline.models import TimelineEvent

# How the timeline names an agent (conversations.routing_history: the first name).
AGENT_NAMES = {spec.username: spec.first_name for spec in AGENTS}


def work_items_create(
    conversations: list[tuple[ContactPlan, ConversationPlan, Conversation]], *, staff: Staff,
) -> tuple[int, int, int]:
    """Write the work items of these (past) conversations, their history and its timeline
    entries; how many of each."""
    made: list[tuple[int, Conversation, WorkPlan, WorkItem]] = []
    for plan, c, conversation in conversations:
        if not c.work:
            continue
        conversation.contact = plan.contact  # what routing_attributes reads: the same row
        values = routing.attributes_normalise(channel=conversation.channel,
                                              attributes=routing_attributes(conversation))
        route = routing.route_find(attributes=values, priority=conversation.priority)
        for work in c.work:
            item = routing.work_item_build(conversation_id=conversation.pk, channel=conversation.channel,
                                           values=values, route=route, at=work.enqueued_at)
            _outcome_set(item, work, staff)
            made.append((plan.contact.pk, conversation, work, item))
    WorkItem.objects.bulk_create([item for *_, item in made], batch_size=5_000)

    history, timeline = [], []
    recorded_at = timezone.now()
    for contact_id, conversation, work, item in made:
        steps = work.steps
        if item.sla_breached_at is not None:  # the SLA sweep's step, in its place in time
            steps = sorted([*steps, WorkStep(WorkItemEventKind.BREACHED, item.sla_breached_at)],
                           key=lambda step: step.at)
        for step in steps:
            detail = _detail(step, item, staff)
            history.append((item.pk, step.kind, step.at, staff.profile_ids.get(step.agent), item.queue_id,
                            Jsonb(detail)))
            if step.kind in WorkItemEvent.CONTACT_HISTORY_KINDS:
                payload = {**detail, "queue": item.queue.key, "agent": AGENT_NAMES.get(step.agent, "")}
                payload = {name: value for name, value in payload.items() if value not in ("", None)}
                timeline.append((contact_id, f"routing.{step.kind}", step.at, "routing", Jsonb(payload),
                                 "conversation", conversation.pk, recorded_at))
    events = copy_rows(WorkItemEvent, ("item", "kind", "at", "agent", "queue", "detail"), history)
    copies = copy_rows(TimelineEvent, ("contact", "kind", "occurred_at", "actor", "payload", "subject_type",
                                       "subject_id", "created_at"), timeline)
    return len(made), events, copies


def _outcome_set(item: WorkItem, work: WorkPlan, staff: Staff) -> None:
    """How it ended, as routing leaves a completed or cancelled item."""
    item.state = work.state
    item.agent_id = staff.profile_ids.get(work.holder)
    item.assigned_at = work.held_since
    item.answered_at = work.answered_at
    item.completed_at = work.ended_at
    if service_levels.breached(item, now=work.ended_at):  # as the sweep would have marked it
        item.sla_breached_at = service_levels.due_at(WorkItemEventKind.BREACHED, item)
    missed = work.missed
    item.declined_by = list(dict.fromkeys(staff.profile_ids[step.agent] for step in missed))
    item.declined_at = missed[-1].at if missed else None


def _detail(step: WorkStep, item: WorkItem, staff: Staff) -> dict[str, Any]:
    """What routing's services record with each kind of step."""
    if step.kind == WorkItemEventKind.QUEUED:
        return {"rule": item.rule, "queue": item.queue.key}
    if step.kind == WorkItemEventKind.TRANSFERRED:
        return {"to_agent": staff.profile_ids[step.to_agent], "by": f"user:{staff.agent_ids[step.agent]}"}
    if step.kind == WorkItemEventKind.COMPLETED:
        return {"by": f"user:{staff.agent_ids[step.agent]}"}
    if step.kind == WorkItemEventKind.CANCELLED:
        return {"by": "system"}
    if step.kind == WorkItemEventKind.BREACHED:
        return {"waited_seconds": int((step.at - item.enqueued_at).total_seconds())}
    return {}
