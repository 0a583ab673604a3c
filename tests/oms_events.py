"""Builders of OMS webhook events as the OMS sends them, for tests and benchmarks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

WEBHOOK_URL = "/integrations/oms/webhook"


def at(minutes: float) -> str:
    """An ISO time `minutes` after a fixed base time, so tests can order events exactly."""
    return (datetime(2026, 11, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def event(event_type: str, data: dict[str, Any], *, occurred_at: str | None = None,
          event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "occurred_at": occurred_at or timezone.now().isoformat(),
        "data": data,
    }


def customer(external_id: str = "C1", **fields: Any) -> dict[str, Any]:
    return {"id": external_id, "name": "Ana García", "email": f"{external_id.lower()}@example.com",
            "language": "es", "country": "ES", **fields}


def order_created(order_id: str = "O1", *, customer_id: str = "C1", total: str = "30.00",
                  status: str = "created", **kwargs: Any) -> dict[str, Any]:
    order = {
        "id": order_id,
        "customer": customer(customer_id),
        "courier": {"id": "R1", "name": "Marc Vidal", "vehicle": "motorbike", "status": "active"},
        "partner": {"id": "P1", "name": "Pizzeria Roma", "store_name": "Pizzeria Roma",
                    "category": "restaurant"},
        "status": status,
        "total": total,
        "currency": "EUR",
        "placed_at": kwargs.get("occurred_at") or timezone.now().isoformat(),
        "items": [{"sku": "margherita", "quantity": 2, "price": "15.00"}],
    }
    return event("order.created", {"order": order}, **kwargs)


def order_status_changed(order_id: str, status: str, **kwargs: Any) -> dict[str, Any]:
    return event("order.status_changed", {"order": {"id": order_id, "status": status}}, **kwargs)


def order_delayed(order_id: str, delay_minutes: int = 20, **kwargs: Any) -> dict[str, Any]:
    return event("order.delayed", {"order": {"id": order_id}, "delay_minutes": delay_minutes,
                                   "reason": "courier stuck in traffic"}, **kwargs)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
