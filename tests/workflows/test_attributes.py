"""The condition catalogue: names per scope with types, the bulk loaders, and validation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Conversation
from supportdesk.conditions import condition_matches
from tests.factories import ContactFactory, ConversationFactory, OrderFactory, PartnerFactory
from workflows import attributes
from workflows.attributes import condition_errors, contact_attributes, order_attributes


def test_every_scope_has_typed_attributes() -> None:
    names = attributes.catalogue()
    for name in ("contact.lifetime_order_value", "contact.last_rating", "contact.rating_avg_90d",
                 "contact.conversations_last_30_days", "contact.delayed_orders_last_30_days",
                 "order.minutes_past_promise", "order.partner", "conversation.queue",
                 "conversation.agent"):
        assert name in names
    assert names["contact.tags"].type == attributes.LIST
    assert attributes.catalogue(["order"]).keys() <= {n for n in names if n.startswith("order.")}


@pytest.mark.parametrize(("condition", "fragment"), [
    ({"attribute": "contact.shoe_size", "op": "eq", "value": 3}, "unknown attribute"),
    ({"attribute": "order.total", "op": "gt", "value": 3}, "unknown attribute"),  # not in scope
    ({"attribute": "contact.tags", "op": "gt", "value": 3}, "does not fit"),
    ({"attribute": "contact.lifetime_order_value", "op": "contains", "value": "3"}, "does not fit"),
    ({"attribute": "contact.lifetime_order_value", "op": "eq", "value": "lots"}, "is not a number"),
    ({"attribute": "contact.opted_out", "op": "eq", "value": "yes"}, "is not a boolean"),
    ({"attribute": "contact.kind", "op": "in", "value": ["customer", 3]}, "is not a string"),
    ({"attribute": "contact.kind", "op": "nope", "value": "x"}, "not an operator"),
    ({"all": [{"attribute": "contact.tier", "op": "eq"}]}, "needs a value"),
])
def test_bad_conditions_are_refused_with_a_message(condition, fragment) -> None:
    errors = condition_errors(condition, ["contact"])
    assert errors and fragment in " ".join(errors)


def test_good_conditions_pass() -> None:
    condition = {"all": [
        {"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300},
        {"any": [{"attribute": "contact.last_rating", "op": "lte", "value": 2},
                 {"attribute": "contact.rating_avg_90d", "op": "lt", "value": 3}]},
        {"attribute": "order.minutes_past_promise", "op": "gt", "value": 15},
        {"attribute": "contact.tags", "op": "contains", "value": "vip"},
        {"attribute": "contact.attributes.city", "op": "eq", "value": "Madrid"},
        {"attribute": "contact.opted_out", "op": "eq", "value": False},
    ]}
    assert condition_errors(condition, ["contact", "order"]) == []
    assert condition_errors({}, ["contact"]) == []


@pytest.mark.django_db
def test_contact_attributes_loads_many_contacts_in_three_queries() -> None:
    now = timezone.now()
    unhappy = ContactFactory(lifetime_order_value=Decimal("420.00"), last_rating=2, tags=["vip"],
                             attributes={"city": "Madrid"}, rating_count=3,
                             rating_avg_90d=Decimal("2.50"))
    others = ContactFactory.create_batch(5)
    ConversationFactory(contact=unhappy)
    old = ConversationFactory(contact=unhappy)
    Conversation.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=20))
    OrderFactory(customer=unhappy, is_delayed=True)
    OrderFactory(customer=unhappy, is_delayed=True, placed_at=now - timedelta(days=40))

    with CaptureQueriesContext(connection) as queries:
        loaded = contact_attributes([unhappy.pk, *(c.pk for c in others)], now=now)

    assert len(queries) == 3
    values = loaded[unhappy.pk]
    assert values["contact.conversations_last_7_days"] == 1
    assert values["contact.conversations_last_30_days"] == 2
    assert values["contact.delayed_orders_last_30_days"] == 1
    assert values["contact.attributes.city"] == "Madrid"
    assert loaded[others[0].pk]["contact.conversations_last_90_days"] == 0
    recovery = {"all": [{"attribute": "contact.lifetime_order_value", "op": "gte", "value": 300},
                        {"attribute": "contact.last_rating", "op": "lte", "value": 2},
                        {"attribute": "contact.tags", "op": "contains", "value": "vip"}]}
    assert condition_matches(recovery, values)
    assert not condition_matches(recovery, loaded[others[0].pk])


@pytest.mark.django_db
def test_order_attributes_minutes_past_promise_and_partner() -> None:
    now = timezone.now()
    partner = PartnerFactory(external_id="P-BURGER")
    late = OrderFactory(promised_at=now - timedelta(minutes=20, seconds=5), partner=partner)
    early = OrderFactory(promised_at=now + timedelta(minutes=5))
    assert order_attributes(late, now=now)["order.minutes_past_promise"] == 20
    assert order_attributes(late, now=now)["order.partner"] == "P-BURGER"
    assert order_attributes(early, now=now)["order.minutes_past_promise"] == 0
    assert order_attributes(OrderFactory(), now=now)["order.minutes_past_promise"] is None


@pytest.mark.django_db
def test_conversation_attributes_include_custom_ones() -> None:
    conversation = ConversationFactory(contact_reason="late_order", attributes={"audited": True})
    values = attributes.conversation_attributes(conversation)
    assert values["conversation.contact_reason"] == "late_order"
    assert values["conversation.attributes.audited"] is True
    assert values["conversation.channel"] == "chat"
