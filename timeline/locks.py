"""THE order in which row locks on contacts and orders are taken, by every writer.

Whoever writes contacts or orders (the OMS drain, a batch or one event at a time; an edit
in the admin or the API; a merge; the widget creating its visitor) locks, in one
transaction:

1. contacts, by ascending id: the ones the change names, the ones they were merged into
   (following the chain), the current customer of every order it will lock (their
   lifetime totals move with the order), and, for a merge, the contacts merged into the
   source earlier (they are re-pointed);
2. then orders, by ascending id;
3. then rows of the layers above (conversations, ...), which only a merge re-points.

A transaction that keeps to this never waits for a contact while it holds an order, nor
for a contact while it holds one of a higher id, so two writers can never deadlock on
them. `rows_lock` is the one place that takes these locks: the services call it instead
of `select_for_update` on contacts or orders. (Totals are refreshed afterwards on the
customers already held, so their UPDATE takes no new lock.) tests/timeline/test_lock_order.py
checks each writer.

Which rows come with the named ones is read before locking, without locks; once locked,
the plan is checked again (a merge or an order moving to another customer may have come
in between), and if it grew, the locks taken so far are given back (a savepoint rolled
back) and the plan is taken again.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import OperationalError, transaction

from timeline.models import Contact, Order

LOCK_PLAN_ATTEMPTS = 5


class _PlanChanged(Exception):
    pass


def rows_lock(
    *, contact_ids: Iterable[int] = (), order_ids: Iterable[int] = (),
    merged_into: Iterable[int] = (),
) -> tuple[dict[int, Contact], dict[int, Order]]:
    """Lock these contacts and orders, with the contacts that come with them (see above),
    in the one lock order. `merged_into`: contacts whose earlier merged contacts are locked
    too (a merge's source). Returns the locked rows by id."""
    contact_ids, order_ids, merged_into = set(contact_ids), set(order_ids), set(merged_into)
    for _attempt in range(LOCK_PLAN_ATTEMPTS):
        planned = _plan(contact_ids=contact_ids, order_ids=order_ids, merged_into=merged_into)
        try:
            with transaction.atomic():  # a savepoint: rolled back, it gives its locks back
                contacts = {row.pk: row for row in Contact.objects.select_for_update()
                            .filter(pk__in=planned).order_by("pk")}
                orders = {row.pk: row for row in Order.objects.select_for_update()
                          .filter(pk__in=order_ids).order_by("pk")}
                if _still_needed(contacts, orders, merged_into) - contacts.keys():
                    raise _PlanChanged
                return contacts, orders
        except _PlanChanged:
            continue
    raise OperationalError("Contacts and orders kept changing while being locked; try again.")


def _plan(*, contact_ids: set[int], order_ids: set[int], merged_into: set[int]) -> set[int]:
    planned = set(contact_ids)
    planned |= set(Order.objects.filter(pk__in=order_ids, customer__isnull=False)
                   .values_list("customer_id", flat=True))
    if merged_into:
        planned |= set(Contact.objects.filter(merged_into__in=merged_into).values_list("pk", flat=True))
    frontier = planned
    while frontier:  # the contacts they were merged into, along the chain
        frontier = set(Contact.objects.filter(pk__in=frontier, merged_into__isnull=False)
                       .values_list("merged_into_id", flat=True)) - planned
        planned |= frontier
    return planned


def _still_needed(contacts: dict[int, Contact], orders: dict[int, Order], merged_into: set[int]) -> set[int]:
    """What the plan needs, read from the locked rows themselves."""
    needed = {row.merged_into_id for row in contacts.values()}
    needed |= {row.customer_id for row in orders.values()}
    if merged_into:
        needed |= set(Contact.objects.filter(merged_into__in=merged_into).values_list("pk", flat=True))
    return needed - {None}


def merge_target(contact: Contact, locked: dict[int, Contact]) -> Contact:
    """The contact a merged contact lives on now (itself if never merged), along the chain;
    every contact on it is in `locked` (rows_lock planned them)."""
    seen = {contact.pk}
    while contact.merged_into_id and contact.merged_into_id not in seen:
        seen.add(contact.merged_into_id)
        contact = locked[contact.merged_into_id]
    return contact
