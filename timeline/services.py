"""Writes to contacts and orders. Each change that matters records a timeline event.

Over 500 lines, knowingly: issue 11 splits this module along its use cases into a package
re-exporting these names; issue 10 changed behaviour here and left the move to that one change."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from supportdesk.actors import user_actor
from supportdesk.db import rows_update
from supportdesk.errors import Conflict, DomainError, NotFound
from timeline import events
from timeline.locks import merge_target, rows_lock
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
    """Create or update a contact by (kind, external id), locking its row for the transaction.

    What is said about a merged contact's external id lands on the contact it was merged
    into, which is returned. The same path as the OMS's events (`mirror_batch`), so the
    locks are taken in the one order (`timeline.locks`).
    """
    _check_fields(fields, CONTACT_FIELDS, "contact")
    fields = dict(fields)
    if isinstance(fields.get("current_order"), Order):
        fields["current_order"] = fields["current_order"].external_id
    result = mirror_batch(batch=[MirroredEvent(
        source_event_id=None, occurred_at=occurred_at, order=None,
        contacts=[MirroredContact(kind=kind, external_id=external_id, fields=fields)],
    )], actor=actor)
    return result.contacts[(kind, external_id)]


def _contact_change(
    contact: Contact, *, created: bool, fields: dict[str, Any], occurred_at: datetime, actor: str
) -> bool:
    """Apply one mirrored change to a (locked) contact in memory and record it on the
    timeline; True when the row needs writing."""
    versions_before = contact.field_versions
    changes = _apply(contact, fields, occurred_at)
    if created:
        events.contact_created_event(contact=contact, occurred_at=occurred_at, actor=actor)
    elif changes:
        events.contact_updated_event(
            contact=contact, changes=changes, occurred_at=occurred_at, actor=actor
        )
    return created or bool(changes) or contact.field_versions != versions_before


def customer_totals_refresh(*, customer_id: int) -> Contact:
    """Recompute one customer's lifetime order value and order count from their orders."""
    customers_totals_refresh(customer_ids=[customer_id])
    return Contact.objects.get(pk=customer_id)


def customers_totals_refresh(*, customer_ids: Iterable[int]) -> None:
    """Recompute lifetime order value and order count from the orders themselves, for many
    customers in one statement.

    The customer rows are locked first (in id order, so two callers never deadlock), so
    concurrent refreshes for one customer run one after the other and each sees the orders
    the other committed. Cancelled orders do not count.

    Every order total fits its column, but enough of them add up past what the lifetime
    value's column holds: the value stops at the column's largest number rather than fail
    (an overflow here would hold back every later event of that customer).
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM timeline_contact WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids]
        )
        cursor.execute(
            """
            UPDATE timeline_contact AS c
               SET lifetime_order_value = t.value,
                   order_count = t.orders,
                   updated_at = now()
              FROM (
                    SELECT wanted.id, least(coalesce(sum(o.total), 0), %s) AS value,
                           least(count(o.id), %s) AS orders
                      FROM unnest(%s::bigint[]) AS wanted(id)
                      LEFT JOIN timeline_order AS o
                             ON o.customer_id = wanted.id AND o.status <> %s
                     GROUP BY wanted.id
                   ) AS t
             WHERE c.id = t.id
               AND (c.lifetime_order_value, c.order_count) IS DISTINCT FROM (t.value, t.orders)
            """,
            [_LIFETIME_VALUE_CEILING, _ORDER_COUNT_CEILING, ids, OrderStatus.CANCELLED],
        )


def _column_ceiling(model: type[models.Model], name: str) -> Decimal:
    column = model._meta.get_field(name)
    return Decimal(10) ** (column.max_digits - column.decimal_places) - Decimal(1).scaleb(
        -column.decimal_places)


_LIFETIME_VALUE_CEILING = _column_ceiling(Contact, "lifetime_order_value")
_ORDER_COUNT_CEILING = 2**31 - 1  # PositiveIntegerField: a PostgreSQL integer


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
    _check_fields(fields, ORDER_FIELDS, "order")
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
    changes = _apply(order, fields, occurred_at)

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
    _check_fields(fields, CONTACT_FIELDS, "contact")
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
        contact = rows_lock(contact_ids=[contact.pk])[0].get(contact.pk)
        if contact is None:
            raise NotFound("The contact no longer exists.")
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


# --- Batches mirrored from the OMS ------------------------------------------------------------


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
            _check_fields(change.fields, CONTACT_FIELDS, "contact")
        if event.order is not None:
            _check_fields(event.order.fields, ORDER_FIELDS, "order")
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


def _check_fields(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown {what} fields: {', '.join(sorted(unknown))}")


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


# --- Merging two contacts that are the same person --------------------------------------------

# The fields a merge fills on the contact kept when it has no value of its own.
_MERGE_FILLED_FIELDS = (
    "name", "email", "phone", "preferred_language", "country", "credit_balance", "tier",
    "vehicle", "courier_status", "current_order", "store_name", "store_category",
)


def _contact_references() -> list[models.ForeignObjectRel]:
    """Every foreign key pointing at Contact, from any app, found through the model registry
    so this layer never imports the apps above it (conversations, ...)."""
    relations = [
        field for field in Contact._meta.get_fields(include_hidden=True)
        if field.auto_created and not field.concrete
    ]
    unsupported = [relation for relation in relations if relation.many_to_many]
    if unsupported:
        # A many-to-many needs duplicates handled; refuse rather than silently lose links.
        raise NotImplementedError(f"contact_merge cannot move {unsupported}.")
    return relations


def contact_merge(
    *, source: Contact, target: Contact, merged_by: AbstractBaseUser | None = None
) -> Contact:
    """Merge `source` into `target`, the same person known twice: everything pointing at the
    source (timeline events, orders as customer, courier or partner, conversations, contacts
    merged into it earlier, ...) moves to the target, the target's empty fields are filled
    from the source, and the source is kept, marked merged, out of search and lists. The
    merge is recorded on the target's timeline. Returns the target as saved."""
    if source.pk == target.pk:
        raise DomainError("into: A contact cannot be merged into itself.", code="merge_into_self",
                          details={"into": ["A contact cannot be merged into itself."]})
    now = timezone.now()
    with transaction.atomic():
        # Everything the merge re-points, locked up front in the one order (timeline.locks):
        # both contacts, those merged into the source earlier, then the source's orders.
        source_orders = Order.objects.filter(
            models.Q(customer=source.pk) | models.Q(courier=source.pk) | models.Q(partner=source.pk))
        locked, _orders = rows_lock(contact_ids=[source.pk, target.pk], merged_into=[source.pk],
                                    order_ids=source_orders.values_list("pk", flat=True))
        if source.pk not in locked or target.pk not in locked:
            raise NotFound("The contact to merge, or the one to merge into, no longer exists.")
        source, target = locked[source.pk], locked[target.pk]
        _merge_check(source=source, target=target)
        moved = {}
        try:
            with transaction.atomic():
                for relation in _contact_references():
                    field = relation.field
                    # The base manager is a plain one: TimelineEvent's own queryset refuses update()
                    # because events are append-only. Re-pointing the contact column is the one
                    # exception: each event stays exactly as written, only whose timeline it is on
                    # follows the person.
                    moved[f"{relation.related_model._meta.label_lower}.{field.name}"] = (
                        relation.related_model._base_manager.filter(**{field.name: source.pk})
                        .update(**{field.attname: target.pk})
                    )
        except IntegrityError as exc:
            # Something unique per contact (a conversation's client id) is on both of them.
            raise Conflict(gettext("These contacts cannot be merged: both hold a record that must stay "
                                   "unique per contact (%(detail)s).") % {"detail": str(exc).splitlines()[0]},
                           code="merge_conflict") from exc
        filled = _merge_fill(source=source, target=target)
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        if target.kind == ContactKind.CUSTOMER:
            customers_totals_refresh(customer_ids=[source.pk, target.pk])
            target.refresh_from_db(fields=["lifetime_order_value", "order_count"])
        events.contact_merged_event(
            contact=target, source=source, moved=moved, filled=filled, occurred_at=now,
            actor=user_actor(merged_by),
        )
    return target


def _merge_check(*, source: Contact, target: Contact) -> None:
    if source.kind != target.kind:
        raise DomainError(
            f"into: A {source.kind} cannot be merged into a {target.kind}.",
            code="merge_kind_mismatch",
            details={"into": [f"A {source.kind} cannot be merged into a {target.kind}."]},
        )
    if source.merged_into_id is not None:
        raise Conflict(
            f"Contact {source.pk} was already merged into contact {source.merged_into_id}.",
            code="already_merged",
        )
    if target.merged_into_id is not None:
        raise Conflict(
            f"into: Contact {target.pk} was merged into contact {target.merged_into_id}; "
            "merge into that one instead.",
            code="target_merged",
            details={"into": [f"Merged into contact {target.merged_into_id}."]},
        )


def _merge_fill(*, source: Contact, target: Contact) -> list[str]:
    """Fill the target's empty fields from the source (with the source's field versions, so
    the OMS's ordering of changes still holds); return the names of the fields filled."""
    filled = [
        name for name in _MERGE_FILLED_FIELDS
        if _is_blank(_field_value(target, name)) and not _is_blank(_field_value(source, name))
    ]
    for name in filled:
        setattr(target, name, getattr(source, name))
    new_attributes = {**source.attributes, **target.attributes}
    if new_attributes != target.attributes:
        target.attributes = new_attributes
        filled.append("attributes")
    new_tags = [*target.tags, *(tag for tag in source.tags if tag not in target.tags)]
    if new_tags != target.tags:
        target.tags = new_tags
        filled.append("tags")
    target.field_versions = {
        **target.field_versions,
        **{name: source.field_versions[name] for name in filled if name in source.field_versions},
    }
    return filled


def _field_value(contact: Contact, name: str) -> Any:
    # Relations by id, so checking for a value costs no query.
    return contact.current_order_id if name == "current_order" else getattr(contact, name)
