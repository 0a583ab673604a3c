"""The API's request parser (set in REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from supportdesk.json_input import JsonInputError, json_loads


class SafeJSONParser(JSONParser):
    """DRF's JSON parser through `json_loads`: deep nesting, NUL, lone surrogates and NaN are a 400
    here, before any serializer or the database meets them."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> Any:
        try:
            return json_loads(stream.read())
        except JsonInputError as error:
            raise exceptions.ParseError(error.message) from None

