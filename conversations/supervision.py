"""What supervisors do on the desk: see every ongoing conversation, whisper into one, take one
over, and set an agent's presence.

Reads (`ongoing_conversations`, `ongoing_rows`, `agents_for_presence`) return querysets or
plain rows for the pages; writes go through the existing services (`note_add`,
`conversation_transfer`, routing's `presence_set`), so routing, the timeline and the pushes
behave exactly as when an agent does the same. Every function checks the supervisor
permission first (`check_supervisor`): the pages call them and nothing else.

Scale: conversations run to millions, ongoing ones to thousands. The list filters
conversations by status (index `conversation_status_newest`); the queue, state and agent
filters are semi-joins on the open work items (the partial unique index
`work_item_one_open_per_conversation`, and `work_item_held` for an agent), and a page's
work items come in one more query, so a page costs the same few queries whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from conversations import services
from conversations.access import access_conversation, check_supervisor
from conversations.models import Conversation, ConversationStatus, Message
from routing import services as routing
from routing.audit import audit_record
from routing.models import (
    HELD_STATES,
    OPEN_STATES,
    AgentProfile,
    ItemState,
    Presence,
    PresenceReason,
    WorkItem,
)
from supportdesk.errors import DomainError, NotFound

ONGOING_STATUSES = (ConversationStatus.OPEN, ConversationStatus.PENDING)
# The states a supervisor filters on, in the order the page offers them.
ITEM_STATES = (ItemState.WAITING, ItemState.OFFERED, ItemState.ASSIGNED)
# What the pages call them (routing's own choice labels are not translated).
STATE_LABELS = {ItemState.WAITING: gettext_lazy("Waiting"), ItemState.OFFERED: gettext_lazy("Offered"),
                ItemState.ASSIGNED: gettext_lazy("Assigned")}
PRESENCE_LABELS = {Presence.ONLINE: gettext_lazy("Online"), Presence.AWAY: gettext_lazy("Away"),
                   Presence.OFFLINE: gettext_lazy("Offline")}


# --- the ongoing conversations ------------------------------------------------------------------


def ongoing_conversations(*, user: Any, queue_key: str = "", agent_user_id: int | None = None,
                          state: str = "") -> QuerySet[Conversation]:
    """Every conversation not resolved yet, newest first, with its open work item's id
    (`open_item_id`), filtered by the item's queue, state or agent (the assignee, or the agent
    it is offered to)."""
    check_supervisor(user)
    open_items = WorkItem.objects.filter(state__in=OPEN_STATES)
    conversations = (Conversation.objects.filter(status__in=ONGOING_STATUSES)
                     .select_related("contact", "assignee")
                     .annotate(open_item_id=Subquery(open_items.filter(conversation_id=OuterRef("pk"))
                                                     .values("pk")[:1]))
                     .order_by("-created_at", "-pk"))
    if queue_key:
        conversations = conversations.filter(
            pk__in=open_items.filter(queue__key=queue_key).values("conversation_id"))
    if state:
        if state not in ITEM_STATES:
            raise DomainError(gettext("Unknown state %(state)s.") % {"state": state}, code="invalid_state")
        conversations = conversations.filter(
            pk__in=WorkItem.objects.filter(state=state).values("conversation_id"))
    if agent_user_id is not None:
        held = WorkItem.objects.filter(state__in=HELD_STATES, agent__user_id=agent_user_id)
        conversations = conversations.filter(Q(assignee_id=agent_user_id)
                                             | Q(pk__in=held.values("conversation_id")))
    return conversations


@dataclass(frozen=True)
class OngoingRow:
    conversation: Conversation
    item: WorkItem | None
    # Seconds since the conversation reached routing while nobody holds it (waiting or
    # offered); None once an agent has it, or when routing has no item for it.
    waiting_seconds: int | None

    @property
    def state(self) -> str:
        return self.item.state if self.item is not None else ""

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS.get(self.state, gettext("Not routed")))

    @property
    def agent_name(self) -> str:
        user = (self.item.agent.user if self.item is not None and self.item.agent_id
                else self.conversation.assignee)
        return (user.get_full_name() or user.get_username()) if user is not None else ""


def ongoing_rows(conversations: list[Conversation], *, now: datetime | None = None) -> list[OngoingRow]:
    """A page of `ongoing_conversations` with each one's work item (queue, agent), in one query."""
    now = now or timezone.now()
    items = (WorkItem.objects.select_related("queue", "agent__user")
             .in_bulk([c.open_item_id for c in conversations if c.open_item_id is not None]))
    rows = []
    for conversation in conversations:
        item = items.get(conversation.open_item_id)
        waiting = (int((now - item.enqueued_at).total_seconds())
                   if item is not None and item.state != ItemState.ASSIGNED else None)
        rows.append(OngoingRow(conversation=conversation, item=item, waiting_seconds=waiting))
    return rows


def ongoing_conversation(*, user: Any, conversation_id: int) -> tuple[Conversation, WorkItem | None]:
    """One conversation as the supervisor opens it, with its open work item if any."""
    check_supervisor(user)
    conversation = access_conversation(user=user, conversation_id=conversation_id)
    item = (WorkItem.objects.select_related("queue", "agent__user")
            .filter(conversation_id=conversation.pk, state__in=OPEN_STATES).first())
    return conversation, item


# --- joining and taking over ---------------------------------------------------------------------


def conversation_whisper(*, user: Any, conversation_id: int, body: Any, client_id: Any = "") -> Message:
    """Join a conversation with an internal note: the assigned agent sees it live (the staff
    group), the contact never does. Sent again with the same client id, the first one."""
    check_supervisor(user)
    return services.note_add(conversation_id=conversation_id, user=user, body=body, client_id=client_id)


def conversation_take_over(*, user: Any, conversation_id: int) -> WorkItem:
    """The supervisor takes the conversation: routing assigns its work item to them (their
    capacity counts, the previous agent's frees and refills), the timeline records the
    transfer and the assignment, and the previous agent's workspace drops it. Taking over
    again what one holds already changes nothing."""
    check_supervisor(user)
    conversation = access_conversation(user=user, conversation_id=conversation_id)
    held = WorkItem.objects.filter(conversation_id=conversation.pk, state=ItemState.ASSIGNED,
                                   agent__user_id=user.pk).first()
    if held is not None:
        return held
    profile = AgentProfile.objects.filter(user_id=user.pk).first()
    if profile is None:
        raise DomainError(gettext("Taking a conversation over needs an agent profile: ask an "
                                  "administrator to give you one."), code="not_an_agent")
    if profile.presence != Presence.ONLINE:
        raise DomainError(gettext("Set yourself online to take a conversation over."),
                          code="agent_unavailable")
    return services.conversation_transfer(conversation_id=conversation.pk, user=user, agent_user_id=user.pk)


# --- agents' presence ------------------------------------------------------------------------------


def agents_for_presence(*, user: Any) -> QuerySet[AgentProfile]:
    check_supervisor(user)
    return AgentProfile.objects.select_related("user").order_by("user__username", "pk")


def agent_presence_set(*, user: Any, agent_user_id: int, presence: str) -> AgentProfile:
    """A supervisor sets an agent online, away or offline, through routing's `presence_set`
    (which returns or pulls work as it defines, and pushes the change to the agent's
    workspace), with a routing audit row naming the supervisor. Setting what is already set
    changes nothing and audits nothing."""
    check_supervisor(user)
    profile = AgentProfile.objects.select_related("user").filter(user_id=agent_user_id).first()
    if profile is None:
        raise NotFound(gettext("Agent %(id)s does not exist.") % {"id": agent_user_id})
    with transaction.atomic():
        before = profile.presence
        profile = routing.presence_set(user=profile.user, presence=presence,
                                       reason=PresenceReason.SUPERVISOR)
        audit_record(actor=user, obj=profile, instance_before={"presence": before},
                     instance_after={"presence": profile.presence})
    return profile
