"""Conditions over plain attributes, for routing rules and (later) workflow triggers.

A condition is JSON, so supervisors can edit it in the admin and it can be stored as is:

    {"attribute": "language", "op": "eq", "value": "es"}
    {"all": [<condition>, ...]}        every one holds (an empty list holds)
    {"any": [<condition>, ...]}        at least one holds (an empty list does not)

Operators: eq, ne, in, not_in, gt, gte, lt, lte, contains, exists. Comparisons between a
number and a string are false, never an error: a rule must not break routing because an
attribute came in with an unexpected type. `condition_errors` finds what is wrong with a
condition before it is saved (unknown attribute, operator, or a value that does not fit
the operator), so a bad rule is a form error, not a broken router.

Pure functions over plain data: no database, no Django.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists")
_ORDERED = {"gt", "gte", "lt", "lte"}
_MISSING = object()


class ConditionError(ValueError):
    pass


def condition_matches(condition: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Whether `attributes` satisfy `condition` (which `condition_errors` accepted)."""
    if "all" in condition:
        return all(condition_matches(part, attributes) for part in condition["all"])
    if "any" in condition:
        return any(condition_matches(part, attributes) for part in condition["any"])
    op = condition["op"]
    actual = attributes.get(condition["attribute"], _MISSING)
    if op == "exists":
        return (actual is not _MISSING and actual is not None) == bool(condition.get("value", True))
    if actual is _MISSING or actual is None:
        # A missing attribute satisfies only the negative operators.
        return op in {"ne", "not_in"}
    expected = condition.get("value")
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if op == "in":
        return any(_equal(actual, option) for option in expected)
    if op == "not_in":
        return not any(_equal(actual, option) for option in expected)
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(expected, str) and expected.casefold() in actual.casefold()
        if isinstance(actual, Collection):
            return any(_equal(item, expected) for item in actual)
        return False
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right,
            "lte": left <= right}[op]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None:
        return left == right  # 250, 250.0, "250" and Decimal("250") are all equal
    return actual == expected


def condition_errors(
    condition: Any, *, attributes: Collection[str] | None = None, path: str = "condition"
) -> list[str]:
    """Everything wrong with a condition, as messages naming where; [] when it is valid.

    With `attributes`, only those attribute names are allowed.
    """
    if not isinstance(condition, Mapping):
        return [f"{path}: must be an object."]
    for group in ("all", "any"):
        if group in condition:
            extra = set(condition) - {group}
            if extra:
                return [f"{path}: a group has only {group!r}, not {', '.join(sorted(extra))}."]
            parts = condition[group]
            if not isinstance(parts, list):
                return [f"{path}.{group}: must be a list of conditions."]
            return [error for index, part in enumerate(parts)
                    for error in condition_errors(part, attributes=attributes,
                                                  path=f"{path}.{group}[{index}]")]
    errors = []
    unknown_keys = set(condition) - {"attribute", "op", "value"}
    if unknown_keys:
        errors.append(f"{path}: unknown keys {', '.join(sorted(unknown_keys))}.")
    name = condition.get("attribute")
    if not isinstance(name, str) or not name:
        errors.append(f"{path}.attribute: name the attribute to test.")
    elif attributes is not None and name not in attributes:
        errors.append(f"{path}.attribute: unknown attribute {name!r}; known: "
                      f"{', '.join(sorted(attributes))}.")
    op = condition.get("op")
    if op not in OPERATORS:
        errors.append(f"{path}.op: {op!r} is not an operator; use one of {', '.join(OPERATORS)}.")
        return errors
    value = condition.get("value", _MISSING)
    if op == "exists":
        if value is not _MISSING and not isinstance(value, bool):
            errors.append(f"{path}.value: exists takes true or false.")
    elif value is _MISSING:
        errors.append(f"{path}.value: {op} needs a value.")
    elif op in {"in", "not_in"}:
        if not isinstance(value, list) or not value:
            errors.append(f"{path}.value: {op} needs a non-empty list.")
    elif op in _ORDERED:
        if _number(value) is None:
            errors.append(f"{path}.value: {op} compares numbers; {value!r} is not one.")
    elif isinstance(value, list | dict):
        errors.append(f"{path}.value: {op} takes a single value, not a list or an object.")
    if value is not _MISSING and not _storable(value):
        # JSON columns refuse NaN, Infinity and NUL characters: refuse them here, as a message.
        errors.append(f"{path}.value: use finite numbers and text without NUL characters.")
    return errors


def _storable(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    return True


def condition_check(condition: Any, *, attributes: Collection[str] | None = None) -> None:
    """Raise ConditionError listing every problem, or return when the condition is valid."""
    errors = condition_errors(condition, attributes=attributes)
    if errors:
        raise ConditionError(" ".join(errors))


_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def template_fields(template: str) -> list[str]:
    """The attribute names a key template such as "chat.{language}" uses."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConditionError(f"Template {template!r}: {exc}.") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not _FIELD.match(name) or spec or conversion:
            raise ConditionError(
                f"Template {template!r}: use plain {{attribute}} placeholders, not {{{name}}}."
            )
        names.append(name)
    return names


def template_render(template: str, attributes: Mapping[str, Any]) -> str | None:
    """Fill a key template from attributes; None when one it needs is missing or empty."""
    values = {}
    for name in template_fields(template):
        value = attributes.get(name)
        if value is None or value == "":
            return None
        values[name] = str(value).strip().lower()
    return template.format(**values)
