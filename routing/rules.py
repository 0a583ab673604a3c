"""Routing rules as supervisors edit them: condition rows in, the one JSON condition the engine reads out.

A rule's `RuleCondition` rows are a table anyone can read: rows sharing a group number are
an any-of group, the groups are combined all-of, and no rows match everything. The engine
only reads `RoutingRule.condition`, so the admin assembles it from the rows when they
change (`rule_condition_rebuild`), after checking it (`rule_condition_errors`,
`queue_key_errors`), so that a bad rule is a form error and never a broken router.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext

from routing import services
from routing.models import Queue, RoutingRule
from supportdesk.conditions import ConditionError, condition_errors, template_fields

_LIST_OPS = {"in", "not_in"}
_NUMBER_OPS = {"gt", "gte", "lt", "lte"}


class _KnownAttributes(Collection[str]):
    """The names rules may test, as the collection `condition_errors` checks names against:
    `services.ATTRIBUTES` and any custom.<name>."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and services.attribute_known(name)

    def __iter__(self) -> Iterator[str]:
        return iter((*services.ATTRIBUTES, f"{services.CUSTOM_PREFIX}<name>"))

    def __len__(self) -> int:
        return len(services.ATTRIBUTES) + 1


KNOWN_ATTRIBUTES = _KnownAttributes()


@dataclass(frozen=True)
class ConditionRow:
    group: int
    attribute: str
    op: str
    value: str  # as typed

    def condition(self) -> dict[str, Any]:
        """This row as a condition leaf. A blank value is left out: exists then means
        "is there", and the other operators report it missing."""
        leaf: dict[str, Any] = {"attribute": self.attribute, "op": self.op}
        if self.value.strip():
            leaf["value"] = condition_value_parse(self.op, self.value)
        return leaf


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _number(text: str) -> int | float | str:
    """A number for the ordered operators; the text itself when it is not one, for
    `condition_errors` to report."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    return int(number) if number == number.to_integral_value() else float(number)


def condition_value_parse(op: str, text: str) -> Any:
    """The JSON value of what a supervisor typed for an operator.

    in / not_in: a JSON list, or a comma list ("es, ca"); gt, gte, lt, lte: a number;
    exists: true or false; the others: JSON when it parses (250, true, "250"), the text
    itself otherwise (es).
    """
    text = text.strip()
    if op in _LIST_OPS:
        if text.startswith("["):
            return _json_or_text(text)
        return [_json_or_text(part.strip()) for part in text.split(",") if part.strip()]
    if op in _NUMBER_OPS:
        return _number(text)
    if op == "exists":
        return {"true": True, "false": False}.get(text.lower(), text)
    return _json_or_text(text)


def condition_assemble(rows: Iterable[ConditionRow]) -> dict[str, Any]:
    """{"all": [{"any": [<row>, ...]}, ...]}: one any-of group per group number, in
    number order; {"all": []}, which matches everything, without rows."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row.condition())
    return {"all": [{"any": groups[number]} for number in sorted(groups)]}


def row_condition_errors(row: ConditionRow) -> dict[str | None, list[str]]:
    """What is wrong with one row, by the row's field ("attribute", "op", "value"; None for
    the row as a whole)."""
    errors: dict[str | None, list[str]] = {}
    for message in condition_errors(row.condition(), attributes=KNOWN_ATTRIBUTES, path="row"):
        where, _, text = message.partition(": ")
        field = where.removeprefix("row.")
        errors.setdefault(field if field in ("attribute", "op", "value") else None, []).append(text)
    return errors


def rule_condition_errors(condition: Any) -> list[str]:
    return condition_errors(condition, attributes=KNOWN_ATTRIBUTES)


def rule_condition_rebuild(rule: RoutingRule) -> dict[str, Any]:
    """Assemble the rule's condition from its saved rows and store it."""
    rows = [ConditionRow(group=row.group, attribute=row.attribute, op=row.op, value=row.value)
            for row in rule.conditions.order_by("group", "position", "id")]
    rule.condition = condition_assemble(rows)
    rule.save(update_fields=["condition", "updated_at"])
    return rule.condition


def queue_key_errors(queue_key: str) -> list[str]:
    """What is wrong with a rule's queue key: a key naming no queue; a template with a
    field that is no attribute, or that no existing queue's key could come out of."""
    try:
        fields = template_fields(queue_key)
    except ConditionError as exc:
        return [str(exc)]
    if not fields:
        if not Queue.objects.filter(key=queue_key).exists():
            return [gettext("Missing queue %(key)r: there is no queue with that key; create it first.")
                    % {"key": queue_key}]
        return []
    unknown = sorted({name for name in fields if name not in KNOWN_ATTRIBUTES})
    if unknown:
        return [gettext("Unknown attribute %(unknown)s in the queue key; use %(known)s.")
                % {"unknown": ", ".join(unknown), "known": ", ".join(KNOWN_ATTRIBUTES)}]
    # A placeholder stands for whatever text an item brings.
    pattern = "".join(re.escape(literal) + (".+" if name is not None else "")
                      for literal, name, _, _ in string.Formatter().parse(queue_key))
    if not any(re.fullmatch(pattern, key) for key in Queue.objects.values_list("key", flat=True)):
        return [gettext("Missing queue: no queue's key fits the template %(key)r; create at least one "
                        "queue it can name first.") % {"key": queue_key}]
    return []
