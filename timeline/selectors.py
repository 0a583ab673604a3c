"""Reads of contacts and orders, as querysets the API can filter and paginate."""

from __future__ import annotations

from django.db.models import QuerySet

from timeline.models import Contact, Order


def contact_list() -> QuerySet[Contact]:
    """Contacts with what their representation needs, so a page costs one query."""
    return Contact.objects.select_related("current_order")


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
