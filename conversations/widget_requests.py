"""What the widget's HTTP endpoints share (`POST /widget/session` and the self-service calls):
reading the JSON body, the language to answer in, and the refusals.

Every refusal is in the customer's language, so each step speaks the best language known by
then (supportdesk.languages): a body that is not JSON is refused in the browser's language; once
the body is read, the widget's setting it carries (`language`, the host's data-language) counts;
once the session names a contact, theirs. The messages are made (gettext) where they are raised,
so a caller activates the language around the step that may raise.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import translation
from django.utils.translation import gettext

from supportdesk import languages
from supportdesk.errors import DomainError, error_json
from supportdesk.json_input import JsonInputError, json_loads

TOKEN_MAX_CHARS = 4096


class BadRequest(DomainError):
    code = "bad_request"


def widget_text(data: dict[str, Any], name: str, limit: int) -> str:
    """The text field `name` of a widget's request body, stripped ("" when absent)."""
    value = data.get(name) or ""
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(gettext("%(name)s must be text of at most %(limit)s characters.")
                         % {"name": name, "limit": limit})
    return value.strip()


def widget_token(data: dict[str, Any], name: str) -> str:
    """The token field `name` (identity, session) of a widget's request body ("" when absent)."""
    value = data.get(name) or ""
    if not isinstance(value, str) or len(value) > TOKEN_MAX_CHARS:
        raise BadRequest(gettext("%(name)s must be a token (text of at most %(max)s characters).")
                         % {"name": name, "max": TOKEN_MAX_CHARS})
    return value.strip()


def widget_body(request: HttpRequest, *, example: str) -> tuple[dict[str, Any], str]:
    """(the JSON object a widget endpoint was sent, the widget's language setting in it). An empty
    body is an empty object. Refused (BadRequest) in the browser's language: the body's is unread."""
    with translation.override(languages.customer_language(request=request)):
        if not request.body.strip():
            return {}, ""
        try:
            data = json_loads(request.body)
        except JsonInputError as error:
            raise BadRequest(gettext("%(reason)s The body must be JSON, e.g. %(example)s.")
                             % {"reason": error.message, "example": example}) from None
        if not isinstance(data, dict):
            raise BadRequest(gettext("The body must be a JSON object."))
        language = data.get("language") or ""
        if not isinstance(language, str) or len(language) > languages.LANGUAGE_MAX_CHARS:
            raise BadRequest(gettext("language must be a language code such as es (at most %(max)s characters).")
                             % {"max": languages.LANGUAGE_MAX_CHARS})
        return data, language.strip()


def widget_refusal(error: DomainError) -> JsonResponse:
    """A refused widget request, in the one error shape."""
    return error_json(error.code, error.message, error.status_code)


def widget_rate_limited(wait: float) -> JsonResponse:
    """429 with Retry-After, in the active language."""
    message = gettext("Too many requests; wait %(seconds)s seconds.") % {"seconds": f"{wait:g}"}
    return error_json("rate_limited", message, 429, **{"Retry-After": str(max(1, round(wait)))})
