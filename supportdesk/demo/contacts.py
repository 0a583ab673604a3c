"""Contacts' orders and their status history, written in bulk."""

from __future__ import annotations

from django.utils import timezone

from supportdesk.demo.bulk import column_set, copy_rows
from supportdesk.demo.common import COURIER, PARTNER
from supportdesk.demo.plans import ContactPlan
from timeline.models import Contact, CourierStatus, Order, OrderStatusChange


def _contact_ids(plans: list[ContactPlan]) -> dict[tuple[str, str], int]:
    """Ids of the couriers and partners the plans' orders use, created now or before."""
    ids = {(p.contact.kind, p.contact.external_id): p.contact.pk for p in plans}
    wanted = {(COURIER, o.courier_ref) for p in plans for o in p.orders if o.courier_ref}
    wanted |= {(PARTNER, o.partner_ref) for p in plans for o in p.orders if o.partner_ref}
    missing = wanted - ids.keys()
    if missing:
        rows = Contact.objects.filter(
            kind__in=[COURIER, PARTNER], external_id__in=[ext for _, ext in missing]
        ).values_list("kind", "external_id", "pk")
        ids.update({(kind, ext): pk for kind, ext, pk in rows})
    return ids


def orders_create(plans: list[ContactPlan]) -> dict[str, Order]:
    contact_ids = _contact_ids(plans)
    orders = [
        Order(
            external_id=o.external_id, customer_id=plan.contact.pk,
            courier_id=contact_ids.get((COURIER, o.courier_ref)),
            partner_id=contact_ids.get((PARTNER, o.partner_ref)),
            status=o.status, total=o.total, currency="EUR", items=o.items,
            placed_at=o.placed_at, promised_at=o.promised_at, delivered_at=o.delivered_at,
            cancelled_at=o.cancelled_at, is_delayed=o.is_delayed,
            delay_minutes=o.delay_minutes, delay_reason=o.delay_reason,
        )
        for plan in plans for o in plan.orders
    ]
    Order.objects.bulk_create(orders, batch_size=5_000)
    by_external_id = {order.external_id: order for order in orders}

    # A courier's current order is a live order they carry. Couriers of earlier chunks get
    # theirs too; contacts are seeded in number order, so any run ends with the same.
    current: dict[int, int] = {}
    for plan in plans:
        for o in plan.orders:
            order = by_external_id[o.external_id]
            if o.is_live and order.courier_id:
                current[order.courier_id] = order.pk
    if current:
        column_set(Contact, "current_order_id", "bigint", current)
        Contact.objects.filter(pk__in=list(current)).update(courier_status=CourierStatus.ACTIVE)
    return by_external_id


def status_history_create(plans: list[ContactPlan], orders: dict[str, Order]) -> int:
    recorded_at = timezone.now()
    return copy_rows(
        OrderStatusChange, ("order", "status", "occurred_at", "created_at"),
        ((orders[o.external_id].pk, status, at, recorded_at)
         for plan in plans for o in plan.orders for status, at in o.history),
    )
