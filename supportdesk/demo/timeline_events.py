"""The timeline events the `timeline.events` writers would have recorded for the seeded history."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from psycopg.types.json import Jsonb

from conversations.models import Conversation, ConversationStatus
from supportdesk.demo.bulk import copy_rows
from supportdesk.demo.catalogue import STATUS_EVENT_KINDS
from supportdesk.demo.plans import ContactPlan, ConversationPlan, OrderPlan
from supportdesk.demo.staff import Staff
from timeline.events import EventKind
from timeline.models import Order, OrderStatus, TimelineEvent


def timeline_create(
    plans: list[ContactPlan], orders: dict[str, Order],
    conversations: list[tuple[ContactPlan, ConversationPlan, Conversation]], *, staff: Staff,
) -> int:
    """The events the `timeline.events` writers would have recorded for this history."""
    events = []
    recorded_at = timezone.now()

    def add(contact_id: int, kind: str, at: datetime, actor: str, payload: dict,
            subject_type: str, subject_id: int) -> None:
        events.append((contact_id, kind, at, actor, Jsonb(payload), subject_type, subject_id,
                       recorded_at))

    for plan in plans:
        contact = plan.contact
        add(contact.pk, EventKind.CONTACT_CREATED, plan.since, "oms",
            {"kind": contact.kind, "external_id": contact.external_id}, "contact", contact.pk)
        for o in plan.orders:
            order = orders[o.external_id]
            add(contact.pk, EventKind.ORDER_CREATED, o.placed_at, "oms",
                {"order": o.external_id, "status": OrderStatus.CREATED.value,
                 "total": str(o.total), "currency": order.currency}, "order", order.pk)
            for status, at in o.history[1:]:
                add(contact.pk, STATUS_EVENT_KINDS.get(status, EventKind.ORDER_STATUS_CHANGED),
                    at, "oms", {"order": o.external_id, "status": status}, "order", order.pk)
            if o.courier_assigned_at is not None and order.courier_id:
                # Recorded on the courier's timeline, as order_courier_assigned_event does.
                add(order.courier_id, EventKind.ORDER_COURIER_ASSIGNED, o.courier_assigned_at,
                    "oms", {"order": o.external_id, "status": OrderStatus.ACCEPTED.value},
                    "order", order.pk)
            if o.delayed_at is not None:
                add(contact.pk, EventKind.ORDER_DELAYED, o.delayed_at, "oms",
                    {"order": o.external_id, "status": _status_at(o, o.delayed_at),
                     "delay_minutes": o.delay_minutes, "reason": o.delay_reason,
                     "promised_at": o.promised_at.isoformat()},
                    "order", order.pk)
    for plan, c, conversation in conversations:
        add(plan.contact.pk, EventKind.CONVERSATION_OPENED, c.opened_at, "contact",
            {"channel": c.channel, "subject": c.subject}, "conversation", conversation.pk)
        for status, at in c.status_changes:
            # A reopen is the contact writing again; an agent resolves; the desk closes the rest.
            actor = ("contact" if status == ConversationStatus.OPEN else
                     f"user:{staff.agent_ids[c.assignee]}" if c.assignee else "system")
            add(plan.contact.pk, EventKind.CONVERSATION_STATUS_CHANGED, at, actor,
                {"status": status}, "conversation", conversation.pk)
    return copy_rows(
        TimelineEvent,
        ("contact", "kind", "occurred_at", "actor", "payload", "subject_type", "subject_id",
         "created_at"),
        events,
    )


def _status_at(order: OrderPlan, at: datetime) -> str:
    status = OrderStatus.CREATED.value
    for step, step_at in order.history:
        if step_at <= at:
            status = step
    return status
