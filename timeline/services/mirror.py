"""Batches of changes mirrored from the OMS: contacts and orders created or updated, locked in
the one order, their status history and timeline recorded, their customers' totals refreshed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from supportdesk.db import rows_update
from timeline import events
from timeline.locks import merge_target, rows_lock
from timeline.models import Contact, ContactKind, Order, OrderStatusChange
from timeline.services.fields import CONTACT_FIELDS, ORDER_FIELDS, fields_apply, fields_check
from timeline.services.totals import customers_totals_refresh

_DELAY_FIELDS = frozenset({"is_delayed", "delay_minutes", "delay_reason"})
# Fields whose change moves a customer's lifetime order value or order count.
_TOTALS_FIELDS = frozenset({"customer", "status", "total"})


@dataclass(frozen=True)
class MirroredContact:
    kind: str
    external_id: str
    fields: dict[str, Any]  # model names; current_order as the order's external id


@dataclass(frozen=True)
class MirroredOrder:
    external_id: str
    fields: dict[str, Any]  # model names, without the parties
    parties: dict[str, tuple[str, str]]  # "customer" / "courier" / "partner": (kind, external id)


@dataclass(frozen=True)
class MirroredEvent:
    source_event_id: str | None  # None for a change made by a person
    occurred_at: datetime
    contacts: Sequence[MirroredContact]
    order: MirroredOrder | None


@dataclass(frozen=True)
class MirrorResult:
    contacts: dict[tuple[str, str], Contact]  # by (kind, external id): where each lives now
    orders: dict[str, Order]  # by external id
    created_orders: set[str]


def mirror_batch(*, batch: Sequence[MirroredEvent], actor: str = "oms") -> MirrorResult:
    """Apply many OMS events, in the given order, in a dozen statements instead of a dozen
    per event.

    The outcome is the one `contact_upsert` and `order_upsert` reach event by event (they
    share the same in-memory steps, `_contact_change` and `_order_change`): every contact
    and order the batch touches is created if missing and locked up front, in the one
    lock order (`timeline.locks`), the events are applied to those rows in memory, and the
    rows, status history, timeline and customer totals are written at the end. It is all
    or nothing: a caller wanting to isolate a bad event retries the batch event by event.
    """
    for event in batch:
        for change in event.contacts:
            fields_check(change.fields, CONTACT_FIELDS, "contact")
        if event.order is not None:
            fields_check(event.order.fields, ORDER_FIELDS, "order")
    contact_keys = {(c.kind, c.external_id) for e in batch for c in e.contacts} | {
        party for e in batch if e.order is not None for party in e.order.parties.values()
    }
    order_ids = {e.order.external_id for e in batch if e.order is not None} | {
        c.fields["current_order"] for e in batch for c in e.contacts if c.fields.get("current_order")
    }
    now = timezone.now()
    with transaction.atomic():
        contact_pks, new_contacts = _rows_ensure(
            Contact, contact_keys, key=lambda c: (c.kind, c.external_id),
            query=_contact_keys_q, blank=lambda key: Contact(kind=key[0], external_id=key[1]),
        )
        order_pks, new_orders = _rows_ensure(
            Order, order_ids, key=lambda o: o.external_id,
            query=lambda ids: models.Q(external_id__in=ids),
            blank=lambda external_id: Order(external_id=external_id),
        )
        locked_contacts, locked_orders = rows_lock(contact_ids=contact_pks.values(),
                                                   order_ids=order_pks.values())
        # What the OMS says about a merged contact's id lands on the one it was merged into.
        contacts = {key: merge_target(locked_contacts[pk], locked_contacts)
                    for key, pk in contact_pks.items()}
        orders = {external_id: locked_orders[pk] for external_id, pk in order_pks.items()}
        created_orders = {order.external_id for order in orders.values() if order.pk in new_orders}
        history = _BatchHistory({e.source_event_id for e in batch if e.order is not None})
        dirty: dict[int, models.Model] = {}
        totals: set[int] = set()
        with events.buffered():
            for event in batch:
                for change in sorted(event.contacts, key=lambda c: CONTACT_KIND_ORDER[c.kind]):
                    contact = contacts[(change.kind, change.external_id)]
                    fields = dict(change.fields)
                    if fields.get("current_order"):
                        fields["current_order"] = orders[fields["current_order"]]
                    created = contact.pk in new_contacts
                    new_contacts.discard(contact.pk)
                    if _contact_change(contact, created=created, fields=fields,
                                       occurred_at=event.occurred_at, actor=actor):
                        dirty[id(contact)] = contact
                if event.order is not None:
                    order = orders[event.order.external_id]
                    fields = dict(event.order.fields)
                    for name, party in event.order.parties.items():
                        fields[name] = contacts[party]
                    created = order.pk in new_orders
                    new_orders.discard(order.pk)
                    if _order_change(order, created=created, fields=fields,
                                     occurred_at=event.occurred_at,
                                     source_event_id=event.source_event_id, actor=actor,
                                     record_status=history.record, totals_pending=totals):
                        dirty[id(order)] = order
            _save_changed(list(dirty.values()), now=now)
            OrderStatusChange.objects.bulk_create(history.new, batch_size=1000)
        customers_totals_refresh(customer_ids=totals)  # customers rows_lock holds already
    return MirrorResult(contacts=contacts, orders=orders, created_orders=created_orders)


# The order a single event's contacts are applied in (locks follow timeline.locks, by id).
CONTACT_KIND_ORDER = {ContactKind.CUSTOMER: 0, ContactKind.COURIER: 1, ContactKind.PARTNER: 2}


def _contact_change(
    contact: Contact, *, created: bool, fields: dict[str, Any], occurred_at: datetime, actor: str
) -> bool:
    """Apply one mirrored change to a (locked) contact in memory and record it on the
    timeline; True when the row needs writing."""
    versions_before = contact.field_versions
    changes = fields_apply(contact, fields, occurred_at)
    if created:
        events.contact_created_event(contact=contact, occurred_at=occurred_at, actor=actor)
    elif changes:
        events.contact_updated_event(
            contact=contact, changes=changes, occurred_at=occurred_at, actor=actor
        )
    return created or bool(changes) or contact.field_versions != versions_before


StatusRecorder = Callable[..., bool]


def _order_change(
    order: Order, *, created: bool, fields: dict[str, Any], occurred_at: datetime,
    source_event_id: str | None, actor: str, record_status: StatusRecorder,
    totals_pending: set[int],
) -> bool:
    """Apply one mirrored change to a (locked) order in memory, record its status history
    and timeline, and add the customers whose totals it moves; True when the row needs
    writing."""
    previous_customer_id = order.customer_id
    versions_before = order.field_versions
    changes = fields_apply(order, fields, occurred_at)

    status_recorded = False
    if "status" in fields:
        status_recorded = record_status(
            order=order, status=fields["status"], occurred_at=occurred_at,
            source_event_id=source_event_id,
        )

    # A placeholder (made by a courier update) becomes a real order with its customer.
    first_seen = created or (previous_customer_id is None and order.customer_id is not None)
    if first_seen or changes.keys() & _TOTALS_FIELDS:
        totals_pending.update({previous_customer_id, order.customer_id} - {None})

    _order_timeline(order=order, created=first_seen, status_recorded=status_recorded,
                    fields=fields, changes=changes, occurred_at=occurred_at, actor=actor)
    return created or bool(changes) or order.field_versions != versions_before


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


def _contact_keys_q(keys: Iterable[tuple[str, str]]) -> models.Q:
    by_kind: dict[str, list[str]] = {}
    for kind, external_id in keys:
        by_kind.setdefault(kind, []).append(external_id)
    q = models.Q(pk__in=[])
    for kind, external_ids in by_kind.items():
        q |= models.Q(kind=kind, external_id__in=external_ids)
    return q


def _rows_ensure(model, keys, *, key, query, blank) -> tuple[dict, set[int]]:
    """The ids of the rows with these keys, the missing ones inserted blank (not locked
    yet: `rows_lock` does that, in the one order). Returns the ids by key and the ids
    inserted here."""
    if not keys:
        return {}, set()
    for attempt in (1, 2):
        ids = {key(row): row.pk for row in model.objects.filter(query(keys))}
        try:
            with transaction.atomic():
                created = model.objects.bulk_create([blank(k) for k in sorted(set(keys) - ids.keys())])
            break
        except IntegrityError:  # inserted by another writer since the read: read again
            if attempt == 2:
                raise
    ids.update({key(row): row.pk for row in created})
    return ids, {row.pk for row in created}


def _save_changed(rows: list[models.Model], *, now: datetime) -> None:
    """Write the fields the batch set (and their versions), one UPDATE per model."""
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for row in rows:
        row.updated_at = now
        by_model.setdefault(type(row), []).append(row)
    for model, instances in by_model.items():
        names = {name for row in instances for name in row.field_versions}
        fields = [model._meta.get_field(name).name for name in sorted(names)]
        rows_update(instances, [*fields, "field_versions", "updated_at"])


class _BatchHistory:
    """Status history for a batch: new entries kept for one insert, replays told apart."""

    def __init__(self, source_event_ids: set[str]) -> None:
        self.seen = set(
            OrderStatusChange.objects.filter(source_event_id__in=source_event_ids)
            .values_list("source_event_id", flat=True)
        )
        self.new: list[OrderStatusChange] = []

    def record(self, *, order: Order, status: str, occurred_at: datetime,
               source_event_id: str | None) -> bool:
        if source_event_id is not None:
            if source_event_id in self.seen:
                return False
            self.seen.add(source_event_id)
        self.new.append(OrderStatusChange(order=order, status=status, occurred_at=occurred_at,
                                          source_event_id=source_event_id))
        return True
