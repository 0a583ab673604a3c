"""The segments' SQL says what the conditions engine says (STYLE 5b): random contacts and
random conditions, evaluated by `segment_sql` and by `condition_matches` over
`contact_attributes`, give the same contacts."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from conversations.models import Conversation
from supportdesk.conditions import OPERATORS, condition_errors, condition_matches
from tests.factories import ContactFactory, ConversationFactory, OrderFactory
from timeline.models import Order
from workflows.attributes import contact_attributes
from workflows.segments.sql import segment_sql

pytestmark = pytest.mark.django_db

SCALARS: list[Any] = ["es", "ES", "en", "", "gold", "VIP", "vip", "customer", "courier", "5", "5.0", " 5 ",
                      "abc", "300", "1e2", 0, 1, 2, 5, 5.0, 300, 299.99, 1000, -1, True, False, "true"]
ATTRIBUTES = [
    "contact.kind", "contact.language", "contact.country", "contact.tier", "contact.lifetime_order_value",
    "contact.order_count", "contact.tags", "contact.last_rating", "contact.rating_avg_90d",
    "contact.rating_count", "contact.opted_out", "contact.conversations_last_7_days",
    "contact.conversations_last_30_days", "contact.conversations_last_90_days",
    "contact.delayed_orders_last_30_days", "contact.attributes.score", "contact.attributes.plan",
]
CUSTOM_VALUES: list[Any] = [5, "5", "five", "Five", 5.5, "5.0", True, False, None, [1, "vip"], ["VIP"],
                            {"vip": 1}, "abc def", 0, 1, "1e2", 100]


def _contacts(rng: random.Random, count: int, now) -> list[int]:
    ids = []
    for _ in range(count):
        custom = {}
        for key in ("score", "plan"):
            if rng.random() < 0.7:
                custom[key] = rng.choice(CUSTOM_VALUES)
        contact = ContactFactory(
            kind=rng.choice(["customer", "courier", "partner"]),
            preferred_language=rng.choice(["es", "en", "EN", "", "fr", "5"]),
            country=rng.choice(["ES", "es", "DE", ""]),
            tier=rng.choice(["", "gold", "vip", "standard"]),
            lifetime_order_value=Decimal(rng.choice(["0", "299.99", "300", "300.00", "1000", "5"])),
            order_count=rng.randint(0, 6),
            tags=rng.sample(["vip", "VIP", "late", "5", "abc def"], rng.randint(0, 3)),
            attributes=custom,
            last_rating=rng.choice([None, 1, 2, 3, 5]),
            rating_avg_90d=rng.choice([None, Decimal("2.50"), Decimal("3.00"), Decimal("4.75")]),
            rating_count=rng.randint(0, 3),
            opted_out=rng.random() < 0.3,
        )
        for _ in range(rng.randint(0, 3)):
            conversation = ConversationFactory(contact=contact)
            Conversation.objects.filter(pk=conversation.pk).update(
                created_at=now - timedelta(days=rng.choice([1, 6, 8, 29, 31, 89, 91])))
        for _ in range(rng.randint(0, 2)):
            OrderFactory(customer=contact, is_delayed=rng.random() < 0.7,
                         placed_at=now - timedelta(days=rng.choice([1, 29, 31])))
        ids.append(contact.pk)
    return ids


def _leaf(rng: random.Random) -> dict[str, Any]:
    while True:
        attribute = rng.choice(ATTRIBUTES)
        op = rng.choice(OPERATORS)
        if op == "exists":
            leaf = {"attribute": attribute, "op": op, "value": rng.choice([True, False])}
        elif op in ("in", "not_in"):
            leaf = {"attribute": attribute, "op": op, "value": rng.sample(SCALARS, rng.randint(1, 3))}
        else:
            leaf = {"attribute": attribute, "op": op, "value": rng.choice(SCALARS)}
        if not condition_errors(leaf):
            return leaf


def _condition(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.35:
        group = rng.choice(["all", "any"])
        return {group: [_condition(rng, depth + 1) for _ in range(rng.randint(0, 3))]}
    return _leaf(rng)


def _sql_ids(condition: dict[str, Any], now, contact_ids: list[int] | None = None) -> set[int]:
    sql, params = segment_sql(condition, now=now, contact_ids=contact_ids).select("c.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_matches_the_conditions_engine(seed: int) -> None:
    # Given random contacts with conversations and orders of random ages
    rng = random.Random(seed)
    now = timezone.now()
    ids = _contacts(rng, 40, now)
    attributes = contact_attributes(ids, now=now)
    # When random conditions are evaluated both ways
    for _ in range(150):
        condition = _condition(rng)
        expected = {cid for cid in ids if condition_matches(condition, attributes[cid])}
        # Then the SQL finds exactly the contacts the engine does, over all and over a subset
        assert _sql_ids(condition, now) == expected, condition
        subset = ids[::3]
        assert _sql_ids(condition, now, subset) == expected & set(subset), condition


def test_windows_of_any_length_count_recent_rows() -> None:
    # Given a contact with conversations 3 and 20 days old, a delayed order 10 days old and a
    # low rating on a conversation 5 days ago
    now = timezone.now()
    contact = ContactFactory()
    for days in (3, 20):
        conversation = ConversationFactory(contact=contact)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=now - timedelta(days=days))
    OrderFactory(customer=contact, is_delayed=True, placed_at=now - timedelta(days=10))
    OrderFactory(customer=contact, is_delayed=False, placed_at=now - timedelta(days=2))
    rated = ConversationFactory(contact=contact)
    _rate(rated, contact, rating=2, at=now - timedelta(days=5))

    def holds(attribute: str, op: str, value: Any) -> bool:
        return contact.pk in _sql_ids({"attribute": attribute, "op": op, "value": value}, now)

    # Then each window counts what falls in it
    assert holds("contact.conversations_last_14_days", "eq", 2)  # the rated one is recent too
    assert holds("contact.conversations_last_21_days", "eq", 3)
    assert holds("contact.delayed_orders_last_7_days", "eq", 0)
    assert holds("contact.delayed_orders_last_11_days", "gte", 1)
    assert holds("contact.low_ratings_last_6_days", "gte", 1)
    assert not holds("contact.low_ratings_last_4_days", "gte", 1)


def _rate(conversation: Conversation, contact, *, rating: int, at) -> None:
    """A rating as the surveys keep it: on the conversation when it has the fields, else the
    contact's last rating."""
    names = {field.name for field in Conversation._meta.get_fields()}
    if {"rating", "rated_at"} <= names:
        Conversation.objects.filter(pk=conversation.pk).update(rating=rating, rated_at=at)
    else:
        type(contact).objects.filter(pk=contact.pk).update(last_rating=rating, last_rated_at=at)


def test_merged_contacts_are_never_members() -> None:
    kept = ContactFactory(tier="gold")
    merged = ContactFactory(tier="gold")
    type(merged).objects.filter(pk=merged.pk).update(merged_into=kept)
    assert _sql_ids({"attribute": "contact.tier", "op": "eq", "value": "gold"}, timezone.now()) == {kept.pk}


def test_empty_condition_matches_nobody() -> None:
    ContactFactory()
    assert _sql_ids({}, timezone.now()) == set()
    assert Order.objects.count() == 0
