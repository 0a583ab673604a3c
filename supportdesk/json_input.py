"""JSON from outside, read safely: one loader for the API, the widget, the sockets and the webhooks.

`json.loads` accepts what the rest of the desk cannot hold: nesting deep enough to exhaust the
interpreter's recursion (a RecursionError, so a 500) or to crash whatever walks the result
later (serializers, psycopg's JSON dumper); NUL characters, which PostgreSQL refuses in text
and in jsonb; lone surrogates (half of a UTF-16 pair, legal in a JSON escape, not in UTF-8),
which cannot be encoded for the database or for the answer; and NaN/Infinity, which are not
JSON at all. `json_loads` refuses all of them with one domain error, so every entry point
answers a 400 (or an error frame) instead of failing later.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString
from django.utils.translation import gettext as _

from supportdesk.errors import DomainError

# Deep enough for any document the desk takes (order payloads nest four or five levels),
# shallow enough that every recursive walker downstream stays far from Python's limit.
MAX_DEPTH = 32

_UNSAFE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class JsonInputError(DomainError):
    code = "bad_json"
    status_code = 400


def _reject_constant(name: str) -> Any:
    raise JsonInputError(_("%(name)s is not a JSON number.") % {"name": name})


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity, which no column or JSON answer holds
        raise JsonInputError(_("The number %(number)s is too large.") % {"number": text[:32]})
    return value


def _check_text(text: str) -> None:
    match = _UNSAFE_CHARACTERS.search(text)
    if match is None:
        return
    if match.group() == "\x00":
        raise JsonInputError(_("Text may not contain NUL (\\u0000) characters."))
    raise JsonInputError(_("Text may not contain lone surrogates (half of a UTF-16 pair, e.g. \\ud800)."))


def json_check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonInputError when a parsed document nests deeper than `max_depth` or holds
    text the database cannot store. Iterative, so no depth makes it recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise JsonInputError(_("JSON may nest at most %(depth)d levels.") % {"depth": max_depth})
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def json_loads(raw: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON document from outside; JsonInputError (code `bad_json`, 400) says what is wrong."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise JsonInputError(_("JSON may nest at most %(depth)d levels.") % {"depth": max_depth}) from None
    except UnicodeDecodeError:
        raise JsonInputError(_("The body is not valid UTF-8 text.")) from None
    except ValueError as error:  # JSONDecodeError, or an integer longer than Python converts
        raise JsonInputError(_("Not valid JSON: %(reason)s.") % {"reason": error}) from None
    json_check(value, max_depth=max_depth)
    return value


class SafeJSONField(forms.JSONField):
    """A form's JSON field (the admin's definitions, conditions, texts) read by `json_loads`:
    nesting, NUL characters, lone surrogates and NaN are a form error, not a 500 when
    parsing or saving."""

    def to_python(self, value: Any) -> Any:
        already_parsed = isinstance(value, list | dict | int | float | JSONString)
        if self.disabled or value in self.empty_values or already_parsed:
            return super().to_python(value)
        try:
            converted = json_loads(value)
        except JsonInputError as error:  # Django's own message, then what exactly is wrong
            raise ValidationError([ValidationError(self.error_messages["invalid"], code="invalid",
                                                   params={"value": value}),
                                   ValidationError(error.message, code="invalid")]) from None
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return json_loads(data)
        except JsonInputError:
            return InvalidJSONInput(data)
