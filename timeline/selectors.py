"""Reads of contacts and orders, as querysets the API can filter and paginate."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from timeline.models import Contact, Order, TimelineEvent


def contact_list(*, include_merged: bool = False) -> QuerySet[Contact]:
    """Contacts with what their representation needs, so a page costs one query. Contacts
    merged into another are left out unless asked for (they stay reachable by id)."""
    contacts = Contact.objects.select_related("current_order")
    return contacts if include_merged else contacts.filter(merged_into__isnull=True)


def order_list() -> QuerySet[Order]:
    """Orders with their customer, courier and partner joined in."""
    return Order.objects.select_related("customer", "courier", "partner")


def order_detail_list() -> QuerySet[Order]:
    """Orders as `order_list`, with their status history fetched in one more query."""
    return order_list().prefetch_related("status_history")


def contacts_count() -> int:
    return Contact.objects.count()


def orders_count() -> int:
    return Order.objects.count()


TIMELINE_ORDERING = ("-occurred_at", "-id")


def timeline_kinds_filter(kinds: list[str]) -> Q:
    """Exact kinds ("order.delayed") and prefixes ("order": every order.* kind)."""
    condition = Q()
    for kind in kinds:
        condition |= Q(kind=kind) if "." in kind else Q(kind__startswith=f"{kind}.")
    return condition


def timeline_events(
    *, contact_id: int, kinds: list[str] | None = None, since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[TimelineEvent]:
    """A contact's timeline, newest first by (occurred_at, id): the order of the index
    timeline_contact_newest, so a page (and a cursor's deep page) is one index range scan."""
    events = TimelineEvent.objects.filter(contact_id=contact_id)
    if kinds:
        events = events.filter(timeline_kinds_filter(kinds))
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    return events.order_by(*TIMELINE_ORDERING)
