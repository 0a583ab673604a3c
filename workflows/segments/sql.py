"""A segment's conditions as one SQL query over contacts, for counts, samples and fills over
millions of contacts, and for re-evaluating the few contacts a batch of events touched.

The specification is `supportdesk.conditions.condition_matches` over the attributes
`workflows.attributes.contact_attributes` loads for a contact: this module says the same
thing in SQL (tests/workflows/test_segments_sql.py feeds random contacts through both and
expects the same answer). The semantics it reproduces:

- a missing (NULL) attribute satisfies only `ne` and `not_in` (and `exists` false);
- text compares case-insensitively; a number and a numeric string compare as numbers;
- `contains` is a case-insensitive substring of text, or an element of a list (tags);
- ordered comparisons read numbers (numeric strings too); anything else is false.

Time windows ("conversations in the last 30 days") are counted in aggregate subqueries
joined to the contacts: one pass over the recent rows for a whole-table count, narrowed to
the given contacts when only those are evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.utils import timezone

from conversations.models import Conversation
from timeline.models import Contact, Order

# Attribute kinds, as SQL sees them.
TEXT, NUMBER, BOOL, TEXT_LIST, JSON = "text", "number", "bool", "text_list", "json"

# Plain columns of the contact (alias c): attribute -> (SQL, kind), as
# workflows.attributes.contact_attributes reads them (an empty text is a value, not missing).
COLUMNS: dict[str, tuple[str, str]] = {
    "contact.kind": ("c.kind", TEXT),
    "contact.language": ("c.preferred_language", TEXT),
    "contact.country": ("c.country", TEXT),
    "contact.tier": ("c.tier", TEXT),
    "contact.lifetime_order_value": ("c.lifetime_order_value", NUMBER),
    "contact.order_count": ("c.order_count", NUMBER),
    "contact.tags": ("c.tags", TEXT_LIST),
    "contact.last_rating": ("c.last_rating", NUMBER),
    "contact.rating_avg_90d": ("c.rating_avg_90d", NUMBER),
    "contact.rating_count": ("c.rating_count", NUMBER),
    "contact.opted_out": ("c.opted_out", BOOL),
}
CUSTOM_PREFIX = "contact.attributes."
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Counts over a window of days: "contact.<what>_last_<N>_days", N from 1 to 366 (the
# workflows' catalogue has some of them; segments take any N).
WINDOWED = re.compile(r"^contact\.(conversations|delayed_orders|low_ratings)_last_(\d{1,3})_days$")
MAX_WINDOW_DAYS = 366
LOW_RATING_AT_MOST = 2  # "a low rating": 1 or 2 of 5

_NUMERIC_TEXT = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?\s*$"


def windowed_attribute(name: str) -> tuple[str, int] | None:
    match = WINDOWED.match(name)
    if match is None:
        return None
    days = int(match.group(2))
    return (match.group(1), days) if 1 <= days <= MAX_WINDOW_DAYS else None


def sql_attribute_known(name: str) -> bool:
    return (name in COLUMNS or windowed_attribute(name) is not None
            or (name.startswith(CUSTOM_PREFIX) and _CUSTOM_NAME.match(name[len(CUSTOM_PREFIX):]) is not None))


def _conversations_rated() -> bool:
    names = {f.name for f in Conversation._meta.get_fields()}
    return {"rating", "rated_at"} <= names


class UnsupportedCondition(ValueError):
    pass


class _Params:
    """Named parameters (%(p1)s, ...), so a fragment can be used twice in any order."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values) + 1}"
        self.values[name] = value
        return f"%({name})s"


@dataclass
class _Builder:
    contact_ids: Sequence[int] | None
    now: datetime
    p: _Params = field(default_factory=_Params)
    joins: dict[str, str] = field(default_factory=dict)

    # --- windowed counts, one aggregate subquery per (what, days) ----------------------------

    def window(self, what: str, days: int) -> str:
        alias = f"w_{what}_{days}"
        if alias not in self.joins:
            self.joins[alias] = self._window_join(alias, what, days)
        return f"coalesce({alias}.n, 0)"

    def _window_join(self, alias: str, what: str, days: int) -> str:
        quote, p = connection.ops.quote_name, self.p
        since = p(self.now - timedelta(days=days))
        if what == "conversations":
            sql = (f"SELECT contact_id, count(*) AS n FROM {quote(Conversation._meta.db_table)} "
                   f"WHERE created_at >= {since}")
            owner = "contact_id"
        elif what == "delayed_orders":
            sql = (f"SELECT customer_id AS contact_id, count(*) AS n FROM {quote(Order._meta.db_table)} "
                   f"WHERE is_delayed AND placed_at >= {since} "
                   f"AND customer_id IS NOT NULL")
            owner = "customer_id"
        elif _conversations_rated():  # low_ratings: conversations rated low in the window
            sql = (f"SELECT contact_id, count(*) AS n FROM {quote(Conversation._meta.db_table)} "
                   f"WHERE rated_at >= {since} AND rating <= {p(LOW_RATING_AT_MOST)}")
            owner = "contact_id"
        else:  # without ratings per conversation: the contact's last one
            sql = (f"SELECT id AS contact_id, 1 AS n FROM {quote(Contact._meta.db_table)} "
                   f"WHERE last_rated_at >= {since} AND last_rating <= {p(LOW_RATING_AT_MOST)}")
            owner = "id"
        if self.contact_ids is not None:
            sql += f" AND {owner} = ANY({p(list(self.contact_ids))})"
        sql += f" GROUP BY {owner}"
        return f"LEFT JOIN ({sql}) {alias} ON {alias}.contact_id = c.id"

    # --- conditions --------------------------------------------------------------------------

    def condition(self, condition: Mapping[str, Any]) -> str:
        for group, word, empty in (("all", " AND ", "TRUE"), ("any", " OR ", "FALSE")):
            if group in condition:
                parts = [self.condition(part) for part in condition[group]]
                return "(" + word.join(parts) + ")" if parts else empty
        name, op = condition["attribute"], condition["op"]
        if name in COLUMNS:
            expr, kind = COLUMNS[name]
        elif name.startswith(CUSTOM_PREFIX) and _CUSTOM_NAME.match(name[len(CUSTOM_PREFIX):]):
            expr, kind = f"(c.attributes -> {self.p(name[len(CUSTOM_PREFIX):])})", JSON
        elif (window := windowed_attribute(name)) is not None:
            expr, kind = self.window(*window), NUMBER
        else:
            raise UnsupportedCondition(f"Segments cannot evaluate {name!r}.")
        return _predicate(expr, kind, op, condition, self.p)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _predicate(e: str, kind: str, op: str, condition: Mapping[str, Any], p: _Params) -> str:
    """The condition on one attribute (SQL `e` of this kind): true or false, never NULL."""
    value = condition.get("value")
    missing = f"({e} IS NULL OR jsonb_typeof({e}) = 'null')" if kind == JSON else f"({e} IS NULL)"
    if op == "exists":
        return f"(NOT {missing})" if bool(condition.get("value", True)) else missing
    if op in ("ne", "not_in"):
        options = [value] if op == "ne" else list(value)
        return f"({missing} OR NOT coalesce({_any_equal(kind, options, e, p)}, FALSE))"
    if op in ("eq", "in"):
        options = [value] if op == "eq" else list(value)
        return f"coalesce({_any_equal(kind, options, e, p)}, FALSE)"
    if op == "contains":
        return f"coalesce({_contains(kind, value, e, p)}, FALSE)"
    number = _number(value)
    numeric = _as_number(kind, e)
    if number is None or numeric is None:
        return "FALSE"
    symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    return f"coalesce({numeric} {symbol} {p(number)}, FALSE)"


def _json_text(e: str) -> str:
    return f"({e} #>> '{{}}')"


def _as_number(kind: str, e: str) -> str | None:
    """The attribute as a number where the specification reads one, else NULL."""
    if kind == NUMBER:
        return f"({e})::numeric"
    if kind == TEXT:
        return _text_number(e)
    if kind == JSON:
        return (f"(CASE jsonb_typeof({e}) WHEN 'number' THEN ({e})::text::numeric "
                f"WHEN 'string' THEN {_text_number(_json_text(e))} END)")
    return None


def _text_number(text_sql: str) -> str:
    return f"(CASE WHEN {text_sql} ~ '{_NUMERIC_TEXT}' THEN trim({text_sql})::numeric END)"


def _any_equal(kind: str, options: list[Any], e: str, p: _Params) -> str:
    parts = [_equal(kind, option, e, p) for option in options]
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def _equal(kind: str, expected: Any, e: str, p: _Params) -> str:
    """`supportdesk.conditions._equal(actual, expected)` for an actual of this kind."""
    number = _number(expected)
    if kind == TEXT:
        if isinstance(expected, str):
            return f"(lower({e}) = lower({p(expected)}))"
        if number is not None:
            return f"({_text_number(e)} = {p(number)})"
        return "FALSE"
    if kind == NUMBER:
        if number is not None:
            return f"(({e})::numeric = {p(number)})"
        if isinstance(expected, bool):  # Python: 1 == True
            return f"(({e})::numeric = {p(int(expected))})"
        return "FALSE"
    if kind == BOOL:
        if isinstance(expected, bool):
            return f"({e} = {p(expected)})"
        if not isinstance(expected, str) and number is not None and number in (0, 1):  # True == 1
            return f"({e} = {p(bool(number))})"
        return "FALSE"
    if kind == TEXT_LIST:
        return "FALSE"  # a list equals no scalar
    # JSON: by the stored value's type.
    text = _json_text(e)
    if isinstance(expected, str):
        sql = f"(jsonb_typeof({e}) = 'string' AND lower({text}) = lower({p(expected)}))"
        if number is not None:
            sql = f"({sql} OR (jsonb_typeof({e}) = 'number' AND ({e})::text::numeric = {p(number)}))"
        return sql
    if isinstance(expected, bool):
        return (f"((jsonb_typeof({e}) = 'boolean' AND ({e})::text::boolean = {p(expected)}) OR "
                f"(jsonb_typeof({e}) = 'number' AND ({e})::text::numeric = {p(int(expected))}))")
    if number is not None:
        if number in (0, 1):
            boolean = f" OR (jsonb_typeof({e}) = 'boolean' AND ({e})::text::boolean = {p(number == 1)})"
        else:
            boolean = ""
        return (f"((jsonb_typeof({e}) = 'number' AND ({e})::text::numeric = {p(number)}) OR "
                f"(jsonb_typeof({e}) = 'string' AND {_text_number(text)} = {p(number)}){boolean})")
    return "FALSE"


def _contains(kind: str, expected: Any, e: str, p: _Params) -> str:
    if kind == TEXT:
        if not isinstance(expected, str):
            return "FALSE"
        return f"(strpos(lower({e}), lower({p(expected)})) > 0)"
    if kind == TEXT_LIST:
        return f"(EXISTS (SELECT 1 FROM unnest({e}) AS tag WHERE {_equal(TEXT, expected, 'tag', p)}))"
    if kind == JSON:
        text = _json_text(e)
        string_part = (f"(jsonb_typeof({e}) = 'string' AND strpos(lower({text}), lower({p(expected)})) > 0)"
                       if isinstance(expected, str) else "FALSE")
        element = _equal(JSON, expected, "item", p)
        key = _equal(TEXT, expected, "key", p)  # an object is a collection of its keys
        return (f"({string_part} OR (jsonb_typeof({e}) = 'array' AND EXISTS "
                f"(SELECT 1 FROM jsonb_array_elements({e}) AS item WHERE {element})) OR "
                f"(jsonb_typeof({e}) = 'object' AND EXISTS "
                f"(SELECT 1 FROM jsonb_object_keys({e}) AS key WHERE {key})))")
    return "FALSE"


@dataclass(frozen=True)
class Compiled:
    """`SELECT ... FROM contacts c <joins> WHERE <where>`, with its named parameters."""

    joins: str
    where: str
    params: dict[str, Any]

    def select(self, columns: str = "c.id") -> tuple[str, dict[str, Any]]:
        quote = connection.ops.quote_name
        return (f"SELECT {columns} FROM {quote(Contact._meta.db_table)} c {self.joins} "
                f"WHERE c.merged_into_id IS NULL AND {self.where}", dict(self.params))


def segment_sql(conditions: Mapping[str, Any], *, contact_ids: Sequence[int] | None = None,
                now: datetime | None = None) -> Compiled:
    """The query of the contacts (of `contact_ids` only, when given) the conditions hold
    for. An empty condition matches nobody (a segment filled by hand). Parameter names are
    p1, p2, ...: a statement around it names its own differently."""
    builder = _Builder(contact_ids=contact_ids, now=now or timezone.now())
    where = builder.condition(conditions) if conditions else "FALSE"
    if contact_ids is not None:
        where = f"c.id = ANY({builder.p(list(contact_ids))}) AND {where}"
    return Compiled(joins=" ".join(builder.joins.values()), where=where, params=builder.p.values)


def segments_matrix_sql(conditions: Sequence[Mapping[str, Any]], *, contact_ids: Sequence[int],
                        now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """One query over the given contacts answering every segment at once: rows of (contact
    id, holds for the 1st conditions, for the 2nd, ...). Merged contacts are left out (they
    belong to no segment). Windowed counts are joined once, whichever segments use them."""
    builder = _Builder(contact_ids=contact_ids, now=now or timezone.now())
    columns = [builder.condition(condition) if condition else "FALSE" for condition in conditions]
    quote = connection.ops.quote_name
    ids = builder.p(list(contact_ids))
    selected = ", ".join(["c.id", *columns])
    return (f"SELECT {selected} FROM {quote(Contact._meta.db_table)} c {' '.join(builder.joins.values())} "
            f"WHERE c.id = ANY({ids}) AND c.merged_into_id IS NULL", builder.p.values)
