"""Conditions over attributes: matching, validation and key templates (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportdesk.conditions import (
    ConditionError,
    condition_check,
    condition_errors,
    condition_matches,
    template_render,
)

CUSTOMER = {"language": "es", "contact_kind": "customer", "lifetime_value": Decimal("1250.00"),
            "tier": "VIP", "tags": ["late", "vip"], "reason": "Where is my order?"}


def cond(attribute: str, op: str, value=None) -> dict:
    return {"attribute": attribute, "op": op, **({} if value is None else {"value": value})}


@pytest.mark.parametrize(("condition", "expected"), [
    (cond("language", "eq", "es"), True),
    (cond("language", "eq", "ES"), True),  # case does not matter for text
    (cond("language", "ne", "en"), True),
    (cond("language", "in", ["ca", "es"]), True),
    (cond("language", "not_in", ["ca", "es"]), False),
    (cond("lifetime_value", "gt", 1000), True),
    (cond("lifetime_value", "gte", "1250"), True),
    (cond("lifetime_value", "lt", 1250), False),
    (cond("lifetime_value", "lte", 1250.0), True),
    (cond("lifetime_value", "eq", 1250), True),
    (cond("tags", "contains", "vip"), True),
    (cond("reason", "contains", "my order"), True),
    (cond("reason", "contains", "refund"), False),
    (cond("tier", "exists"), True),
    (cond("country", "exists"), False),
    (cond("country", "exists", False), True),
    # A missing attribute fails every test but the negative ones.
    (cond("country", "eq", "ES"), False),
    (cond("country", "ne", "ES"), True),
    (cond("country", "not_in", ["ES"]), True),
    (cond("country", "gt", 1), False),
    # A number compared with text is false, not an error.
    (cond("language", "gt", 3), False),
    ({"all": [cond("language", "eq", "es"), cond("lifetime_value", "gt", 1000)]}, True),
    ({"all": [cond("language", "eq", "es"), cond("lifetime_value", "gt", 5000)]}, False),
    ({"any": [cond("language", "eq", "en"), cond("tags", "contains", "late")]}, True),
    ({"any": [{"all": [cond("tier", "eq", "gold")]}, {"all": []}]}, True),
    ({"all": []}, True),
    ({"any": []}, False),
])
def test_conditions_match_as_a_supervisor_reads_them(condition, expected):
    assert condition_errors(condition) == []
    assert condition_matches(condition, CUSTOMER) is expected


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3),
                    st.sampled_from(["1", "2.5", "es", "ES"]))
_attributes = st.dictionaries(st.sampled_from(["a", "b", "c"]), _values, max_size=3)
_leaf = st.builds(cond, st.sampled_from(["a", "b", "c"]), st.sampled_from(["eq", "in"]),
                  st.sampled_from(["1", "es", 2]))


@given(attributes=_attributes, value=_values.filter(lambda v: v is not None))
def test_ne_and_not_in_are_the_negations_of_eq_and_in(attributes, value):
    for positive, negative, expected in (("eq", "ne", value), ("in", "not_in", [value])):
        assert condition_matches(cond("a", negative, expected), attributes) is not (
            condition_matches(cond("a", positive, expected), attributes))


@given(attributes=_attributes, parts=st.lists(_leaf, max_size=4))
def test_any_is_not_all_of_the_negations(attributes, parts):
    negated = [{**part, "op": "not_in" if part["op"] == "in" else "ne"} for part in parts]
    for part in parts:  # "in" needs a list
        if part["op"] == "in":
            part["value"] = [part["value"]]
    for part in negated:
        if part["op"] == "not_in":
            part["value"] = [part["value"]]
    assert condition_matches({"any": parts}, attributes) is not condition_matches(
        {"all": negated}, attributes)


@pytest.mark.parametrize(("condition", "message"), [
    ("language == es", "must be an object"),
    ({"attribute": "language", "op": "equals", "value": "es"}, "'equals' is not an operator"),
    ({"attribute": "language", "op": "eq"}, "eq needs a value"),
    ({"attribute": "", "op": "eq", "value": "es"}, "name the attribute"),
    ({"attribute": "mood", "op": "eq", "value": "sad"}, "unknown attribute 'mood'"),
    (cond("lifetime_value", "gt", "lots"), "gt compares numbers"),
    (cond("language", "in", "es"), "in needs a non-empty list"),
    (cond("language", "in", []), "in needs a non-empty list"),
    (cond("language", "eq", ["es"]), "single value"),
    ({"attribute": "tier", "op": "exists", "value": "yes"}, "true or false"),
    ({"all": cond("language", "eq", "es")}, "condition.all: must be a list"),
    ({"all": [], "any": []}, "a group has only"),
    ({"any": [cond("language", "eq", "es"), {"attribute": "x", "op": "?"}]},
     "condition.any[1].op"),
])
def test_a_bad_condition_gets_a_message_naming_the_problem(condition, message):
    errors = condition_errors(condition, attributes=CUSTOMER.keys())

    assert any(message in error for error in errors), errors
    with pytest.raises(ConditionError, match="condition"):
        condition_check(condition, attributes=CUSTOMER.keys())


def test_key_templates_fill_from_attributes_and_refuse_what_they_cannot_fill():
    assert template_render("chat.{language}", CUSTOMER) == "chat.es"
    assert template_render("{contact_kind}.{tier}", CUSTOMER) == "customer.vip"
    assert template_render("email", CUSTOMER) == "email"
    assert template_render("chat.{country}", CUSTOMER) is None
    for bad in ("chat.{language", "chat.{language!r}", "chat.{0}", "chat.{language:>5}"):
        with pytest.raises(ConditionError, match="Template"):
            template_render(bad, CUSTOMER)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [1, float("-inf")], "e\x00s", ["es", "c\x00a"]])
def test_values_a_json_column_cannot_store_are_errors(value):
    op = "in" if isinstance(value, list) else "eq"

    errors = condition_errors({"attribute": "language", "op": op, "value": value})

    assert any("finite numbers" in error for error in errors)
