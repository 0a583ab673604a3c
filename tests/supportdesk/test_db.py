"""rows_update: many rows, many column types, one statement."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from supportdesk.db import rows_update
from tests.factories import ContactFactory, OrderFactory
from timeline.models import Contact, Order

pytestmark = pytest.mark.django_db


def test_every_row_gets_its_own_values_of_every_type():
    first, second = ContactFactory(tags=["a"]), ContactFactory(attributes={"x": 1})
    untouched = ContactFactory(name="Same")
    first.name, first.tags, first.credit_balance = "Ana O'Neil", ["vip", "late"], Decimal("12.50")
    second.attributes, second.tags, second.email = {"nested": {"ok": True}}, [], "new@example.com"

    with CaptureQueriesContext(connection) as queries:
        updated = rows_update([first, second], ["name", "tags", "credit_balance", "attributes",
                                                "email"])

    assert (updated, len(queries)) == (2, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.name, first.tags, first.credit_balance) == ("Ana O'Neil", ["vip", "late"],
                                                              Decimal("12.50"))
    assert (second.attributes, second.tags, second.email) == (
        {"nested": {"ok": True}}, [], "new@example.com")
    assert Contact.objects.get(pk=untouched.pk).name == "Same"


def test_relations_and_times_are_written_by_id():
    order = OrderFactory()
    other_customer = ContactFactory()
    delivered = timezone.now()
    order.customer, order.courier, order.delivered_at = other_customer, None, delivered

    rows_update([order], ["customer", "courier", "delivered_at"])

    stored = Order.objects.get(pk=order.pk)
    assert (stored.customer_id, stored.courier_id, stored.delivered_at) == (
        other_customer.pk, None, delivered)


def test_nothing_to_write_writes_nothing_and_a_primary_key_is_refused():
    assert rows_update([], ["name"]) == 0
    with pytest.raises(ValueError, match="primary-key"):
        rows_update([ContactFactory()], ["id"])
