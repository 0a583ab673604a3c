"""The OMS event contract: the envelope, the event types and their data, checked fast.

Everything is validated when the webhook arrives (so a bad event gets a 400 naming the
field) and the same functions turn a stored event into plain field dicts for the
services in `timeline`, so processing never meets an input the webhook would refuse.

Envelope: `{"id": str, "type": str, "occurred_at": ISO 8601, "data": {...}}`.

An accepted event must be one processing can always apply and everyone can always read
back, so intake refuses (400, never stored) whatever PostgreSQL would refuse or would store
but not give back to Python: JSON nested deeper than `MAX_JSON_DEPTH` (checked before
parsing: Python's parser would raise RecursionError), arrays and objects over
`MAX_JSON_ITEMS`, NUL characters and lone surrogates anywhere (jsonb and text columns
refuse them), numbers jsonb cannot hold, NaN and Infinity, impossible dates, offsets beyond
+-14:00, times outside `EARLIEST`..`LATEST` (year 1 at +14:00 is year 0 in UTC: PostgreSQL
stores it, Python cannot read it), and amounts that no longer fit their column once rounded
to its decimal places.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils.dateparse import parse_datetime

from timeline.models import (
    Contact,
    ContactKind,
    CourierStatus,
    CourierVehicle,
    CustomerTier,
    Order,
    OrderStatus,
)

# Far more than any real event nests or lists; far less than what breaks a parser.
MAX_JSON_DEPTH = 32
MAX_JSON_ITEMS = 1000
# The times the desk takes: wide enough for any real order, narrow enough that converting
# to any time zone, or adding a delay, stays inside what Python and PostgreSQL can hold.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
MAX_UTC_OFFSET = timedelta(hours=14)  # the furthest any place on Earth is from UTC
# A JSON number's exponent PostgreSQL's numeric (inside jsonb) holds with room to spare.
_MAX_NUMBER_EXPONENT = 1000
_UNSTORABLE_CHARACTERS = re.compile(r"[\x00\ud800-\udfff]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class OmsPayloadError(Exception):
    def __init__(self, message: str, *, code: str = "invalid_event", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


ORDER_EVENT_TYPES = (
    "order.created",
    "order.updated",
    "order.status_changed",
    "order.delayed",
    "order.delivered",
    "order.cancelled",
)
CONTACT_EVENT_TYPES = {
    "customer.updated": ContactKind.CUSTOMER,
    "courier.updated": ContactKind.COURIER,
    "partner.updated": ContactKind.PARTNER,
}
EVENT_TYPES = (*ORDER_EVENT_TYPES, *CONTACT_EVENT_TYPES)


# --- value parsers: each takes (value, path) and returns the clean value or raises ---------

Parser = Callable[[Any, str], Any]


def _fail(path: str, expected: str) -> OmsPayloadError:
    return OmsPayloadError(f"{path} must be {expected}.", field=path)


def _checked_text(value: Any, path: str) -> Any:
    if isinstance(value, str) and _UNSTORABLE_CHARACTERS.search(value):
        raise OmsPayloadError(
            f"{path} holds a NUL character or a lone surrogate, which cannot be stored.", field=path
        )
    return value


def _check_storable(value: Any, path: str) -> None:
    """Every string (keys too) storable, every array and object of a sane size, all the
    way down (the depth was checked before parsing, so this recursion is bounded)."""
    if isinstance(value, dict):
        if len(value) > MAX_JSON_ITEMS:
            raise _fail(path, f"an object of at most {MAX_JSON_ITEMS} keys")
        for key, item in value.items():
            _checked_text(key, path)
            _check_storable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        if len(value) > MAX_JSON_ITEMS:
            raise _fail(path, f"a list of at most {MAX_JSON_ITEMS} entries")
        for item in value:
            _check_storable(item, path)
    else:
        _checked_text(value, path)


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH before the parser recurses into it: brackets
    inside strings do not count, so strings go first."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if brackets and max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, brackets))) > MAX_JSON_DEPTH:
        raise OmsPayloadError(
            f"Body is nested too deep: at most {MAX_JSON_DEPTH} levels of arrays and objects.",
            code="malformed_json",
        )


def _json_number(literal: str) -> float:
    exponent = Decimal(literal).adjusted()
    if abs(exponent) > _MAX_NUMBER_EXPONENT:
        raise ValueError(f"the number {literal[:20]}... is out of range")
    return float(literal)


def _json_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def text(max_length: int) -> Parser:
    def parse(value: Any, path: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str) or len(value) > max_length:
            raise _fail(path, f"a string of at most {max_length} characters")
        return value.strip()

    return parse


def identifier(value: Any, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise _fail(path, "a non-empty id of at most 128 characters")
    return value.strip()


def email(value: Any, path: str) -> str:
    value = text(254)(value, path)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise _fail(path, "an email address") from None
    return value


def choice(values: list[str]) -> Parser:
    def parse(value: Any, path: str) -> str:
        if value not in values:
            raise _fail(path, f"one of {', '.join(values)}")
        return value

    return parse


def optional_choice(values: list[str]) -> Parser:
    inner = choice(values)
    return lambda value, path: "" if value in (None, "") else inner(value, path)


def amount_for(model: type[models.Model], name: str, *, minimum: Decimal | None = None) -> Parser:
    """A decimal amount that fits the model field's column once rounded to its places
    (9999999999.995 rounds up to 11 digits: refused, not left to overflow the column)."""
    column = model._meta.get_field(name)
    cents = Decimal(1).scaleb(-column.decimal_places)
    limit = Decimal(10) ** (column.max_digits - column.decimal_places)
    expected = (f"an amount from {minimum} and below {limit:,}" if minimum is not None
                else f"an amount between -{limit:,} and {limit:,}")

    def parse(value: Any, path: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _fail(path, "a decimal amount")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise _fail(path, "a decimal amount") from None
        # Bounded before rounding too: quantize() of a 40-digit number raises.
        if not amount.is_finite() or abs(amount) >= limit:
            raise _fail(path, expected)
        amount = amount.quantize(cents)
        if abs(amount) >= limit or (minimum is not None and amount < minimum):
            raise _fail(path, expected)
        return amount

    return parse


def timestamp(value: Any, path: str) -> datetime | None:
    """An aware time in UTC, within EARLIEST..LATEST, from a real calendar date."""
    if value is None:
        return None
    expected = "an ISO 8601 date-time with a time zone"
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible: 30 February, 25 o'clock, offset +99:00
        raise _fail(path, f"{expected}, on a real calendar date") from None
    if parsed is None or parsed.tzinfo is None:
        raise _fail(path, expected)
    if abs(parsed.utcoffset()) > MAX_UTC_OFFSET:
        raise _fail(path, f"{expected} at most 14 hours from UTC")
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00 is year 0 in UTC
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise _fail(path, f"{expected} between the years {EARLIEST.year} and {LATEST.year - 1}")
    return parsed


def count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise _fail(path, "a whole number from 0")
    return value


def currency(value: Any, path: str) -> str:
    if not isinstance(value, str) or len(value) != 3 or not (value.isascii() and value.isalpha()):
        raise _fail(path, "a three-letter ISO 4217 currency code")
    return value.upper()


def country(value: Any, path: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) != 2 or not (value.isascii() and value.isalpha()):
        raise _fail(path, "a two-letter ISO 3166 country code")
    return value.upper()


def string_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 64 for v in value):
        raise _fail(path, "a list of strings of at most 64 characters")
    return value


def mapping(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, "an object")
    return value


def item_list(value: Any, path: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(path, "a list of objects")
    return value


# --- field maps: OMS key -> (model field, parser) -------------------------------------------

_COMMON_CONTACT = {
    "name": ("name", text(200)),
    "email": ("email", email),
    "phone": ("phone", text(32)),
    "language": ("preferred_language", text(16)),
    "country": ("country", country),
    "attributes": ("attributes", mapping),
    "tags": ("tags", string_list),
}
CONTACT_FIELD_MAPS: dict[str, dict[str, tuple[str, Parser]]] = {
    ContactKind.CUSTOMER: {
        **_COMMON_CONTACT,
        "tier": ("tier", optional_choice(CustomerTier.values)),
        "credit_balance": ("credit_balance", amount_for(Contact, "credit_balance")),
    },
    ContactKind.COURIER: {
        **_COMMON_CONTACT,
        "vehicle": ("vehicle", optional_choice(CourierVehicle.values)),
        "status": ("courier_status", optional_choice(CourierStatus.values)),
        "current_order_id": ("current_order", lambda v, p: None if v is None else identifier(v, p)),
    },
    ContactKind.PARTNER: {
        **_COMMON_CONTACT,
        "store_name": ("store_name", text(200)),
        "category": ("store_category", text(64)),
    },
}
ORDER_FIELD_MAP: dict[str, tuple[str, Parser]] = {
    "status": ("status", choice(OrderStatus.values)),
    "total": ("total", amount_for(Order, "total", minimum=Decimal(0))),
    "currency": ("currency", currency),
    "items": ("items", item_list),
    "placed_at": ("placed_at", timestamp),
    "promised_at": ("promised_at", timestamp),
    "delivered_at": ("delivered_at", timestamp),
    "cancelled_at": ("cancelled_at", timestamp),
}
_ORDER_PARTIES = {
    "customer": ContactKind.CUSTOMER,
    "courier": ContactKind.COURIER,
    "partner": ContactKind.PARTNER,
}


@dataclass(frozen=True)
class ContactChange:
    kind: str
    external_id: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class OrderChange:
    external_id: str
    fields: dict[str, Any]
    # order field name ("customer", ...) -> the contact it points to
    parties: dict[str, ContactChange] = field(default_factory=dict)


@dataclass(frozen=True)
class OmsEventData:
    event_id: str
    event_type: str
    occurred_at: datetime
    contacts: list[ContactChange]
    order: OrderChange | None


def _fields(raw: dict, field_map: dict[str, tuple[str, Parser]], path: str) -> dict[str, Any]:
    return {
        model_field: parse(raw[key], f"{path}.{key}")
        for key, (model_field, parse) in field_map.items()
        if key in raw
    }


def _contact(raw: Any, kind: str, path: str) -> ContactChange:
    if isinstance(raw, str | int) and not isinstance(raw, bool):
        return ContactChange(kind=kind, external_id=identifier(raw, path), fields={})
    raw = mapping(raw, path)
    if "id" not in raw:
        raise OmsPayloadError(f"{path}.id is required.", field=f"{path}.id")
    return ContactChange(
        kind=kind,
        external_id=identifier(raw["id"], f"{path}.id"),
        fields=_fields(raw, CONTACT_FIELD_MAPS[kind], path),
    )


def _order(event_type: str, data: dict, occurred_at: datetime) -> OrderChange:
    raw = data.get("order")
    if raw is None:
        raise OmsPayloadError("data.order is required for order events.", field="data.order")
    raw = mapping(raw, "data.order")
    if "id" not in raw:
        raise OmsPayloadError("data.order.id is required.", field="data.order.id")
    external_id = identifier(raw["id"], "data.order.id")
    fields = _fields(raw, ORDER_FIELD_MAP, "data.order")
    parties = {
        name: _contact(raw[name], kind, f"data.order.{name}")
        for name, kind in _ORDER_PARTIES.items()
        if raw.get(name) is not None
    }
    if event_type == "order.created" and "customer" not in parties:
        raise OmsPayloadError("data.order.customer is required for order.created.",
                              field="data.order.customer")
    if event_type == "order.status_changed" and "status" not in fields:
        raise OmsPayloadError("data.order.status is required for order.status_changed.",
                              field="data.order.status")
    if event_type == "order.delayed":
        if "delay_minutes" not in data:
            raise OmsPayloadError("data.delay_minutes is required for order.delayed.",
                                  field="data.delay_minutes")
        fields["is_delayed"] = True
        fields["delay_minutes"] = count(data["delay_minutes"], "data.delay_minutes")
        fields["delay_reason"] = text(200)(data.get("reason"), "data.reason")
    elif event_type == "order.delivered":
        fields["status"] = "delivered"
        fields.setdefault("delivered_at", occurred_at)
    elif event_type == "order.cancelled":
        fields["status"] = "cancelled"
        fields.setdefault("cancelled_at", occurred_at)
    return OrderChange(external_id=external_id, fields=fields, parties=parties)


def parse_event(body: bytes) -> OmsEventData:
    """Parse and validate one webhook body; raise OmsPayloadError with a clear message."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise OmsPayloadError("Body must be JSON encoded in UTF-8.", code="malformed_json") from None
    if text.startswith("\ufeff"):
        raise OmsPayloadError("Body must not start with a byte order mark.", code="malformed_json")
    _check_depth(text)
    try:
        envelope = json.loads(text, parse_float=_json_number, parse_constant=_json_constant)
    except ValueError as exc:
        raise OmsPayloadError(f"Body is not valid JSON: {exc}", code="malformed_json") from None
    return parse_envelope(envelope)


def parse_envelope(envelope: Any) -> OmsEventData:
    if not isinstance(envelope, dict):
        raise OmsPayloadError("The event must be a JSON object.")
    _check_storable(envelope, "")
    for key in ("id", "type", "occurred_at", "data"):
        if key not in envelope:
            raise OmsPayloadError(f"{key} is required.", field=key)
    event_type = envelope["type"]
    if event_type not in EVENT_TYPES:
        raise OmsPayloadError(
            f"Unknown event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}.",
            code="unknown_event_type", field="type",
        )
    event_id = envelope["id"]
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 200:
        raise _fail("id", "a non-empty string of at most 200 characters")
    occurred_at = timestamp(envelope["occurred_at"], "occurred_at")
    if occurred_at is None:
        raise _fail("occurred_at", "an ISO 8601 date-time with a time zone")
    data = mapping(envelope["data"], "data")

    if event_type in CONTACT_EVENT_TYPES:
        kind = CONTACT_EVENT_TYPES[event_type]
        if kind not in data:
            raise OmsPayloadError(f"data.{kind} is required for {event_type}.", field=f"data.{kind}")
        contact = _contact(data[kind], kind, f"data.{kind}")
        return OmsEventData(event_id, event_type, occurred_at, [contact], None)

    order = _order(event_type, data, occurred_at)
    return OmsEventData(event_id, event_type, occurred_at, list(order.parties.values()), order)
