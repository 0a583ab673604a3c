"""What a run is about: the contact and, by the trigger's subject, an order or a conversation,
with the attributes conditions test and the variables templates fill."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversations.models import Conversation
from timeline.models import Contact, Order
from workflows import attributes

ORDER, CONVERSATION, CONTACT = "order", "conversation", "contact"


@dataclass
class Subject:
    contact: Contact
    order: Order | None = None
    conversation: Conversation | None = None

    @property
    def subject_type(self) -> str:
        return ORDER if self.order is not None else CONVERSATION if self.conversation is not None else CONTACT

    @property
    def subject_id(self) -> int:
        if self.order is not None:
            return self.order.pk
        if self.conversation is not None:
            return self.conversation.pk
        return self.contact.pk


def subjects_load(refs: Iterable[tuple[int, str, int | None]]) -> dict[tuple[int, str, int | None], Subject]:
    """Subjects for (contact id, subject type, subject id) triples, a few queries for many."""
    refs = list(dict.fromkeys(refs))
    contacts = Contact.objects.in_bulk([contact_id for contact_id, _, _ in refs])
    order_ids = [subject_id for _, kind, subject_id in refs if kind == ORDER and subject_id]
    conversation_ids = [subject_id for _, kind, subject_id in refs if kind == CONVERSATION and subject_id]
    orders = Order.objects.select_related("partner").in_bulk(order_ids) if order_ids else {}
    conversations = (Conversation.objects.select_related("assignee").in_bulk(conversation_ids)
                     if conversation_ids else {})
    loaded = {}
    for ref in refs:
        contact_id, kind, subject_id = ref
        contact = contacts.get(contact_id)
        if contact is None:
            continue
        loaded[ref] = Subject(contact=contact, order=orders.get(subject_id) if kind == ORDER else None,
                              conversation=conversations.get(subject_id) if kind == CONVERSATION else None)
    return loaded


def subject_load(contact_id: int, subject_type: str, subject_id: int | None) -> Subject | None:
    return subjects_load([(contact_id, subject_type, subject_id)]).get((contact_id, subject_type, subject_id))


def subject_attributes(subject: Subject, *, contact_values: dict[str, Any] | None = None,
                       now: datetime | None = None) -> dict[str, Any]:
    """Every attribute conditions may test on this subject (contact values may be preloaded
    in bulk with `attributes.contact_attributes`)."""
    values = dict(contact_values if contact_values is not None
                  else attributes.contact_attributes([subject.contact.pk], now=now).get(subject.contact.pk, {}))
    if subject.order is not None:
        values.update(attributes.order_attributes(subject.order, now=now))
    if subject.conversation is not None:
        values.update(attributes.conversation_attributes(subject.conversation))
    return values


def subject_variables(subject: Subject) -> dict[str, Any]:
    """The template variables of this subject (workflows.templates.VARIABLES)."""
    contact = subject.contact
    name = contact.name or contact.store_name or ""
    values: dict[str, Any] = {
        "contact.name": name, "contact.first_name": name.split(" ", 1)[0] if name else "",
        "contact.external_id": contact.external_id, "contact.email": contact.email,
        "contact.language": contact.preferred_language, "contact.country": contact.country,
        "contact.tier": contact.tier, "contact.lifetime_order_value": contact.lifetime_order_value,
    }
    order = subject.order
    if order is not None:
        values.update({
            "order.id": order.external_id, "order.status": order.get_status_display(),
            "order.total": order.total, "order.currency": order.currency,
            "order.delay_minutes": order.delay_minutes,
            "order.minutes_past_promise": attributes.order_attributes(order).get("order.minutes_past_promise"),
            "order.promised_at": order.promised_at.strftime("%H:%M") if order.promised_at else "",
            "order.placed_at": order.placed_at.strftime("%Y-%m-%d %H:%M") if order.placed_at else "",
        })
    conversation = subject.conversation
    if conversation is not None:
        values.update({"conversation.id": conversation.pk, "conversation.channel": conversation.channel,
                       "conversation.subject": conversation.subject})
    return values
