"""Writes to contacts and orders. Each change that matters records a timeline event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models import Count, Sum

from timeline import events
from timeline.models import Contact, Order, OrderStatus, OrderStatusChange
from timeline.versioning import newer_fields

CONTACT_FIELDS = frozenset(
    {
        "name", "email", "phone", "preferred_language", "country", "attributes", "tags",
        "credit_balance", "tier", "vehicle", "courier_status", "current_order",
        "store_name", "store_category",
    }
)
ORDER_FIELDS = frozenset(
    {
        "customer", "courier", "partner", "status", "total", "currency", "items", "placed_at",
        "promised_at", "delivered_at", "cancelled_at", "is_delayed", "delay_minutes",
        "delay_reason",
    }
)
_RELATION_FIELDS = frozenset({"customer", "courier", "partner", "current_order"})
# Fields whose change moves a customer's lifetime order value or order count.
_TOTALS_FIELDS = frozenset({"customer", "status", "total"})


def _differs(instance: models.Model, name: str, value: Any) -> bool:
    if isinstance(value, models.Model) or value is None and name in _RELATION_FIELDS:
        # Compare ids, so an unchanged relation costs no query.
        return getattr(instance, f"{name}_id") != (value.pk if value is not None else None)
    return getattr(instance, name) != value


def _apply(instance: Contact | Order, fields: dict[str, Any], occurred_at: datetime) -> dict:
    """Set the fields newer than what is stored; return those that actually changed."""
    winners, versions = newer_fields(instance.field_versions, fields, occurred_at)
    changes = {name: value for name, value in winners.items() if _differs(instance, name, value)}
    for name, value in winners.items():
        setattr(instance, name, value)
    instance.field_versions = versions
    return changes


def contact_upsert(
    *, kind: str, external_id: str, fields: dict[str, Any], occurred_at: datetime,
    actor: str = "oms",
) -> Contact:
    """Create or update a contact by (kind, external id), locking its row for the transaction."""
    unknown = set(fields) - CONTACT_FIELDS
    if unknown:
        raise ValueError(f"Unknown contact fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        contact, created = Contact.objects.select_for_update().get_or_create(
            kind=kind, external_id=external_id
        )
        changes = _apply(contact, fields, occurred_at)
        contact.save()
        if created:
            events.contact_created_event(contact=contact, occurred_at=occurred_at, actor=actor)
        elif changes:
            events.contact_updated_event(
                contact=contact, changes=changes, occurred_at=occurred_at, actor=actor
            )
    return contact


def customer_totals_refresh(*, customer_id: int) -> Contact:
    """Recompute lifetime order value and order count from the orders themselves.

    The customer row is locked first, so concurrent refreshes for one customer run one
    after the other and each sees the orders the other committed.
    """
    with transaction.atomic():
        customer = Contact.objects.select_for_update().get(pk=customer_id)
        totals = (
            Order.objects.filter(customer_id=customer_id)
            .exclude(status=OrderStatus.CANCELLED)
            .aggregate(value=Sum("total"), count=Count("id"))
        )
        customer.lifetime_order_value = totals["value"] or Decimal("0.00")
        customer.order_count = totals["count"]
        customer.save(update_fields=["lifetime_order_value", "order_count", "updated_at"])
    return customer


def order_reference(*, external_id: str) -> Order:
    """The order with this OMS id, as a placeholder if its own events have not arrived yet."""
    order, _ = Order.objects.get_or_create(external_id=external_id)
    return order


@dataclass
class OrderUpsertResult:
    order: Order
    created: bool
    changes: dict[str, Any] = field(default_factory=dict)


def order_upsert(
    *, external_id: str, fields: dict[str, Any], occurred_at: datetime,
    source_event_id: str | None = None, actor: str = "oms",
) -> OrderUpsertResult:
    """Create or update an order mirrored from the OMS and keep its customer's totals right.

    `fields` uses model names; customer, courier and partner are Contact instances the
    caller upserted first (and so already holds locks on, in that order). A status is kept
    in the history even when a newer status already stands, so the history converges
    whatever order the events arrive in.
    """
    unknown = set(fields) - ORDER_FIELDS
    if unknown:
        raise ValueError(f"Unknown order fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        existing_customer_id = (
            Order.objects.filter(external_id=external_id).values_list("customer_id", flat=True).first()
        )
        if existing_customer_id and "customer" not in fields:
            # Lock the customer before the order, the same order the other path takes.
            Contact.objects.select_for_update().filter(pk=existing_customer_id).first()
        order, created = Order.objects.select_for_update().get_or_create(external_id=external_id)
        previous_customer_id = order.customer_id
        changes = _apply(order, fields, occurred_at)
        order.save()

        if "status" in fields:
            OrderStatusChange.objects.bulk_create(
                [OrderStatusChange(order=order, status=fields["status"], occurred_at=occurred_at,
                                   source_event_id=source_event_id)],
                ignore_conflicts=True,
            )

        # A placeholder (made by a courier update) becomes a real order with its customer.
        first_seen = created or (previous_customer_id is None and order.customer_id is not None)
        if first_seen or changes.keys() & _TOTALS_FIELDS:
            for customer_id in {previous_customer_id, order.customer_id} - {None}:
                customer_totals_refresh(customer_id=customer_id)

        _order_timeline(order=order, created=first_seen, fields=fields, changes=changes,
                        occurred_at=occurred_at, actor=actor)
    return OrderUpsertResult(order=order, created=created, changes=changes)


def _order_timeline(
    *, order: Order, created: bool, fields: dict[str, Any], changes: dict[str, Any],
    occurred_at: datetime, actor: str,
) -> None:
    customer_id = order.customer_id
    if "courier" in changes and order.courier_id:
        events.order_courier_assigned_event(
            courier_id=order.courier_id, order=order, occurred_at=occurred_at, actor=actor
        )
    if customer_id is None:
        return
    if created:
        events.order_created_event(
            contact_id=customer_id, order=order, occurred_at=occurred_at, actor=actor
        )
    elif "status" in fields:
        events.order_status_changed_event(
            contact_id=customer_id, order=order, status=fields["status"],
            occurred_at=occurred_at, actor=actor,
        )
    if fields.get("is_delayed"):
        events.order_delayed_event(
            contact_id=customer_id, order=order, delay_minutes=fields.get("delay_minutes", 0),
            reason=fields.get("delay_reason", ""), occurred_at=occurred_at, actor=actor,
        )
    other = {k: v for k, v in changes.items() if k not in {"status", "is_delayed",
                                                           "delay_minutes", "delay_reason"}}
    if other and not created:
        events.order_updated_event(
            contact_id=customer_id, order=order, changes=other, occurred_at=occurred_at,
            actor=actor,
        )


