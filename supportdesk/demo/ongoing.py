"""Ongoing conversations (open or pending), written through the services real traffic goes
through: opened (and so routed: a work item waits in its queue), the contact's and the agent's
messages sent, and handed to their agent as a supervisor would, so each one an agent has is
assigned to them by routing and shows in their workspace. They are the last hours' few, so
row by row costs little; the history before them is written in bulk."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversations import services
from conversations.models import Conversation, ConversationStatus, Message, MessageDirection
from routing import services as routing
from routing.models import AgentProfile, Presence, PresenceReason
from supportdesk.demo.bulk import column_set
from supportdesk.demo.plans import ContactPlan, ConversationPlan
from supportdesk.demo.staff import Staff
from supportdesk.errors import Conflict
from timeline.events import CONVERSATION_ASSIGNED, CONVERSATION_NOTE, CONVERSATION_TRANSFERRED, EventKind
from timeline.models import TimelineEvent

ONGOING = (ConversationStatus.OPEN, ConversationStatus.PENDING)


def ongoing_conversations_open(
    plans: list[ContactPlan], *, staff: Staff
) -> list[tuple[ContactPlan, ConversationPlan, Conversation]]:
    """Open the plans' ongoing conversations through the services, in plan order (so which agent
    runs out of room first is the same on every run). One whose agent has no room left on its
    channel waits in its queue with the contact's first message, as it would."""
    users = get_user_model().objects.in_bulk([staff.supervisor_id, *staff.agent_ids.values()])
    supervisor = users[staff.supervisor_id]
    made = []
    for plan in plans:
        for c in plan.conversations:
            if c.status not in ONGOING:
                continue
            conversation = services.conversation_open(
                contact=plan.contact, channel=c.channel, subject=c.subject,
                language=plan.contact.preferred_language, contact_reason=c.reason, priority=c.priority)
            agent = users[staff.agent_ids[c.assignee]] if c.assignee else None
            if agent is not None and not _hand_over(conversation, agent=agent, supervisor=supervisor):
                agent = None
                c = dataclasses.replace(c, assignee=None, status=ConversationStatus.OPEN,
                                        messages=c.messages[:1], status_changes=[])
            _messages_send(conversation, c, agent=agent)
            if c.status == ConversationStatus.PENDING:
                services.conversation_status_set(conversation=conversation, status=c.status, changed_by=agent)
            made.append((plan, c, conversation))
    _times_set(made)
    return made


def _hand_over(conversation: Conversation, *, agent: object, supervisor: object) -> bool:
    """Assign the conversation to its agent (a supervisor's transfer); False when they have no room."""
    profile = AgentProfile.objects.get(user=agent)
    with _online(profile):
        try:
            services.conversation_transfer(conversation_id=conversation.pk, user=supervisor,
                                           agent_user_id=agent.pk)
        except Conflict as refused:
            if refused.code != "agent_unavailable":
                raise
            return False
    return True


@contextmanager
def _online(profile: AgentProfile) -> Iterator[None]:
    """The agent online for the hand-over only. Set through `presence_record` (the one writer
    of presence, so the presence log has the moment too) rather than `presence_set`, whose
    going online would pull waiting work to them and going offline would take back what they
    were just given: the demo's agents are not logged in, and find their conversations in
    their workspace when they are. Their routing slots are rebuilt after, so routing offers
    an offline agent nothing."""
    previous = _presence_record(profile, Presence.ONLINE)
    try:
        yield
    finally:
        _presence_record(profile, previous)
        profile.refresh_from_db()
        routing.agent_slots_rebuild(profile)


def _presence_record(profile: AgentProfile, presence: str) -> str:
    """Set the agent's presence under their row lock; the presence they had."""
    with transaction.atomic():
        locked = AgentProfile.objects.select_for_update().get(pk=profile.pk)
        previous = locked.presence
        routing.presence_record(profile=locked, presence=presence, now=timezone.now(), reason=PresenceReason.DESK)
    return previous


def _messages_send(conversation: Conversation, c: ConversationPlan, *, agent: object) -> None:
    for message in c.messages:
        if message.direction == MessageDirection.INBOUND:
            services.message_create(conversation=conversation, direction=message.direction, body=message.body,
                                    channel_metadata=message.metadata)
        elif message.direction == MessageDirection.OUTBOUND:
            services.agent_reply(conversation_id=conversation.pk, user=agent, body=message.body,
                                 inserted=list(message.inserted))
        else:
            services.note_add(conversation_id=conversation.pk, user=agent, body=message.body)


def _times_set(made: list[tuple[ContactPlan, ConversationPlan, Conversation]]) -> None:
    """The services stamp "now"; the demo's conversations started in the last hours."""
    if not made:
        return
    plans = {conversation.pk: c for _, c, conversation in made}
    column_set(Conversation, "created_at", "timestamptz", {pk: c.opened_at for pk, c in plans.items()})
    column_set(Conversation, "last_message_at", "timestamptz", {pk: c.messages[-1].at for pk, c in plans.items()})
    column_set(Conversation, "first_response_at", "timestamptz",
               {pk: c.first_response_at for pk, c in plans.items() if c.first_response_at})
    messages = Message.objects.filter(conversation_id__in=plans).values_list("pk", "conversation_id", "sequence")
    column_set(Message, "created_at", "timestamptz",
               {pk: plans[conversation].messages[sequence - 1].at for pk, conversation, sequence in messages})
    column_set(TimelineEvent, "occurred_at", "timestamptz", _event_times(plans))


def _event_times(plans: dict[int, ConversationPlan]) -> dict[int, datetime]:
    """When what the services recorded on the timeline happened in the plan: the opening, the
    hand-over (at the first reply), each note and each change of status, in order.
    The events are the demo's own, written a moment ago in this transaction."""
    times: dict[int, datetime] = {}
    written = (TimelineEvent.objects.filter(subject_type="conversation", subject_id__in=plans)
               .order_by("id").values_list("pk", "subject_id", "kind"))
    pending: dict[int, dict[str, list[datetime]]] = {}
    for pk, conversation_id, kind in written:
        c = plans[conversation_id]
        if conversation_id not in pending:
            first_reply = c.first_response_at or c.opened_at
            pending[conversation_id] = {
                EventKind.CONVERSATION_OPENED: [c.opened_at],
                CONVERSATION_TRANSFERRED: [first_reply], CONVERSATION_ASSIGNED: [first_reply],
                CONVERSATION_NOTE: [m.at for m in c.messages if m.direction == MessageDirection.NOTE],
                EventKind.CONVERSATION_STATUS_CHANGED: [at for _, at in c.status_changes],
            }
        planned = pending[conversation_id].get(kind)
        if planned:
            times[pk] = planned.pop(0)
    return times
