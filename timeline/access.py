"""Who may see and change contacts, orders and timelines: one module, asked by every entry point.

Every agent and supervisor sees every contact today (an agent answering anyone needs the
history); departments, when they come, are a filter in `contacts_visible`. Integrations
(their own token) keep contacts in step with their systems: list, read, create, update.
Merging two contacts is a supervisor's call. Not found and not yours answer the same 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext

from supportdesk.access import is_desk_user, is_integration
from supportdesk.errors import NotFound
from timeline.models import Contact, Order


def contacts_visible(user: Any, contacts: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    contacts = Contact.objects.all() if contacts is None else contacts
    return contacts if is_desk_user(user) or is_integration(user) else contacts.none()


def access_contact(*, user: Any, contact_id: int, contacts: QuerySet[Contact] | None = None) -> Contact:
    """The contact, if this user may see it (from `contacts`, e.g. with related rows joined)."""
    contact = contacts_visible(user, contacts).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(gettext("Contact %(id)s does not exist.") % {"id": contact_id})
    return contact


def orders_visible(user: Any, orders: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """Orders follow their contacts: whoever may see contacts may see their orders."""
    orders = Order.objects.all() if orders is None else orders
    return orders if is_desk_user(user) or is_integration(user) else orders.none()


def access_order(*, user: Any, order_id: int, orders: QuerySet[Order] | None = None) -> Order:
    """The order, if this user may see it (the desk's order page)."""
    order = orders_visible(user, orders).filter(pk=order_id).first()
    if order is None:
        raise NotFound(gettext("Order %(id)s does not exist.") % {"id": order_id})
    return order
