"""Writes to contacts and orders. Each change that matters records a timeline event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from supportdesk.actors import user_actor
from supportdesk.errors import Conflict, DomainError
from timeline import events
from timeline.models import Contact, ContactKind, Order, OrderStatus, OrderStatusChange
from timeline.versioning import newer_fields, version_of

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
_DELAY_FIELDS = frozenset({"is_delayed", "delay_minutes", "delay_reason"})
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

        status_recorded = False
        if "status" in fields:
            status_recorded = _status_history_record(
                order=order, status=fields["status"], occurred_at=occurred_at,
                source_event_id=source_event_id,
            )

        # A placeholder (made by a courier update) becomes a real order with its customer.
        first_seen = created or (previous_customer_id is None and order.customer_id is not None)
        if first_seen or changes.keys() & _TOTALS_FIELDS:
            for customer_id in {previous_customer_id, order.customer_id} - {None}:
                customer_totals_refresh(customer_id=customer_id)

        _order_timeline(order=order, created=first_seen, status_recorded=status_recorded,
                        fields=fields, changes=changes, occurred_at=occurred_at, actor=actor)
    return OrderUpsertResult(order=order, created=created, changes=changes)


def _status_history_record(
    *, order: Order, status: str, occurred_at: datetime, source_event_id: str | None
) -> bool:
    """Add a history entry; False when this event's entry is already there (a replay)."""
    if source_event_id is None:
        OrderStatusChange.objects.create(order=order, status=status, occurred_at=occurred_at)
        return True
    _, created = OrderStatusChange.objects.get_or_create(
        source_event_id=source_event_id,
        defaults={"order": order, "status": status, "occurred_at": occurred_at},
    )
    return created


def _order_timeline(
    *, order: Order, created: bool, status_recorded: bool, fields: dict[str, Any], changes: dict[str, Any],
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
    elif status_recorded:
        events.order_status_changed_event(
            contact_id=customer_id, order=order, status=fields["status"],
            occurred_at=occurred_at, actor=actor,
        )
    if fields.get("is_delayed") and changes.keys() & _DELAY_FIELDS:
        events.order_delayed_event(
            contact_id=customer_id, order=order, delay_minutes=fields.get("delay_minutes", 0),
            reason=fields.get("delay_reason", ""), occurred_at=occurred_at, actor=actor,
        )
    other = {k: v for k, v in changes.items() if k not in _DELAY_FIELDS | {"status"}}
    if other and not created:
        events.order_updated_event(
            contact_id=customer_id, order=order, changes=other, occurred_at=occurred_at,
            actor=actor,
        )


# --- Contacts written by people (the API), not mirrored from the OMS ------------------------

# Fields that only mean something for one kind of contact.
_KIND_FIELDS = {
    "credit_balance": ContactKind.CUSTOMER,
    "tier": ContactKind.CUSTOMER,
    "vehicle": ContactKind.COURIER,
    "courier_status": ContactKind.COURIER,
    "current_order": ContactKind.COURIER,
    "store_name": ContactKind.PARTNER,
    "store_category": ContactKind.PARTNER,
}


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, Decimal) and value == 0)


def _check_contact_fields(*, kind: str, fields: dict[str, Any]) -> None:
    """Refuse unknown fields (a programming error) and another kind's fields (bad input)."""
    unknown = set(fields) - CONTACT_FIELDS
    if unknown:
        raise ValueError(f"Unknown contact fields: {', '.join(sorted(unknown))}")
    # A blank value is allowed, so a client may send back the whole representation it read.
    misplaced = {
        name: [f"Only {ContactKind(_KIND_FIELDS[name]).label.lower()}s have this field."]
        for name, value in fields.items()
        if name in _KIND_FIELDS and _KIND_FIELDS[name] != kind and not _is_blank(value)
    }
    if misplaced:
        name, messages = next(iter(misplaced.items()))
        raise DomainError(f"{name}: {messages[0]}", details=misplaced)


def _stamp_versions(contact: Contact, names: Iterable[str], occurred_at: datetime) -> None:
    # A person's edit is newer than any OMS event that happened before it, so a late event
    # must not undo it; an OMS event after it still wins (last writer wins, per field).
    version = version_of(occurred_at)
    contact.field_versions = {
        **contact.field_versions,
        **{name: max(version, contact.field_versions.get(name, -1)) for name in names},
    }


def contact_create(
    *, kind: str, external_id: str, fields: dict[str, Any],
    created_by: AbstractBaseUser | None = None,
) -> Contact:
    """Create a contact by hand; (kind, external id) must be new."""
    if kind not in ContactKind.values:
        raise DomainError(
            f"kind: Unknown kind {kind!r}; use one of {', '.join(ContactKind.values)}.",
            details={"kind": [f"Unknown kind {kind!r}."]},
        )
    if not external_id.strip():
        raise DomainError(
            "external_id: A contact needs an external id.",
            details={"external_id": ["This field may not be blank."]},
        )
    _check_contact_fields(kind=kind, fields=fields)
    duplicate = Conflict(
        f"A {kind} with external id {external_id!r} already exists.",
        details={"external_id": [f"A {kind} with this external id already exists."]},
    )
    if Contact.objects.filter(kind=kind, external_id=external_id).exists():
        raise duplicate
    now = timezone.now()
    contact = Contact(kind=kind, external_id=external_id, **fields)
    _stamp_versions(contact, fields, now)
    try:
        with transaction.atomic():
            contact.save(force_insert=True)
            events.contact_created_event(
                contact=contact, occurred_at=now, actor=user_actor(created_by)
            )
    except IntegrityError:
        # Created by someone else (or the OMS) between the check and the insert.
        raise duplicate from None
    return contact


def contact_update(
    *, contact: Contact, fields: dict[str, Any], changed_by: AbstractBaseUser | None = None
) -> Contact:
    """Change a contact's fields by hand, recording what changed on its timeline."""
    _check_contact_fields(kind=contact.kind, fields=fields)
    now = timezone.now()
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        changes = {name: value for name, value in fields.items() if _differs(contact, name, value)}
        if not changes:
            return contact
        for name, value in changes.items():
            setattr(contact, name, value)
        _stamp_versions(contact, changes, now)
        contact.save()
        events.contact_updated_event(
            contact=contact, changes=changes, occurred_at=now, actor=user_actor(changed_by)
        )
    return contact
