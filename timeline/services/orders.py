"""Orders mirrored from the OMS, one at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from timeline.models import Order
from timeline.services.fields import ORDER_FIELDS, fields_check
from timeline.services.mirror import MirroredEvent, MirroredOrder, mirror_batch


@dataclass
class OrderUpsertResult:
    order: Order
    created: bool


def order_upsert(
    *, external_id: str, fields: dict[str, Any], occurred_at: datetime,
    source_event_id: str | None = None, actor: str = "oms",
) -> OrderUpsertResult:
    """Create or update an order mirrored from the OMS and keep its customer's totals right.

    `fields` uses model names; customer, courier and partner are Contact instances (or
    None). A status is kept in the history even when a newer status already stands, so the
    history converges whatever order the events arrive in. Customers whose totals the
    change moves are refreshed before it returns. The same path as the OMS's events
    (`mirror_batch`), so the locks are taken in the one order (`timeline.locks`): an edit
    in the admin and the drain can never deadlock.
    """
    fields_check(fields, ORDER_FIELDS, "order")
    parties = {name: (contact.kind, contact.external_id) for name, contact in fields.items()
               if name in _PARTY_FIELDS and contact is not None}
    result = mirror_batch(batch=[MirroredEvent(
        source_event_id=source_event_id, occurred_at=occurred_at, contacts=[],
        order=MirroredOrder(external_id=external_id, parties=parties,
                            fields={name: value for name, value in fields.items() if name not in parties}),
    )], actor=actor)
    return OrderUpsertResult(order=result.orders[external_id],
                             created=external_id in result.created_orders)


_PARTY_FIELDS = frozenset({"customer", "courier", "partner"})
