"""What the contact and order services share: the fields each may set, and applying a
change field by field, the newer version winning."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import models

from timeline.models import Contact, Order
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
RELATION_FIELDS = frozenset({"customer", "courier", "partner", "current_order"})


def differs(instance: models.Model, name: str, value: Any) -> bool:
    if isinstance(value, models.Model) or value is None and name in RELATION_FIELDS:
        # Compare ids, so an unchanged relation costs no query.
        return getattr(instance, f"{name}_id") != (value.pk if value is not None else None)
    return getattr(instance, name) != value


def fields_apply(instance: Contact | Order, fields: dict[str, Any], occurred_at: datetime) -> dict:
    """Set the fields newer than what is stored; return those that actually changed."""
    winners, versions = newer_fields(instance.field_versions, fields, occurred_at)
    changes = {name: value for name, value in winners.items() if differs(instance, name, value)}
    for name, value in winners.items():
        setattr(instance, name, value)
    instance.field_versions = versions
    return changes


def fields_check(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown {what} fields: {', '.join(sorted(unknown))}")


def is_blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, Decimal) and value == 0)
