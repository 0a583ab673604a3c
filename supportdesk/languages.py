"""Which language a customer reads the desk's texts in: one decision for the chat widget,
the rating page and the call-consent page, so a customer never reads one page in Spanish
and the next in English.

The order is the contact's own language (what the desk knows about them), then the widget's
setting (the host site's `data-language` on the embed snippet), then the browser's
Accept-Language, and English when none of them is a language the customer texts ship in.
It lives in the core because conversations/ and workflows/ both need it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

LANGUAGE_MAX_CHARS = 16  # a language tag as long as "zh-Hant-TW" fits; longer is not one


def supported(code: str | None) -> str:
    """`code` ("es", "es-ES", "PT_br") as a customer language the desk ships, or ""."""
    if not code or not isinstance(code, str) or len(code) > LANGUAGE_MAX_CHARS:
        return ""
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in settings.CUSTOMER_LANGUAGES else ""


def accept_language(header: str) -> str:
    """The first language of an Accept-Language header the desk ships, or ""."""
    for tag, _quality in parse_accept_lang_header(header[:1000]):  # a header is no place for essays
        code = supported(tag)
        if code:
            return code
    return ""


def browser_language(request: HttpRequest | None) -> str:
    """The first language of the browser's Accept-Language the desk ships, or ""."""
    return accept_language(request.META.get("HTTP_ACCEPT_LANGUAGE", "")) if request is not None else ""


def customer_language(*, contact_language: str | None = "", widget_language: str | None = "",
                      request: HttpRequest | None = None, accept_language_header: str = "") -> str:
    """The language to speak to a customer in: the contact's, the widget's, the browser's (the
    request's Accept-Language, or the header a websocket's handshake brought), English."""
    return (supported(contact_language) or supported(widget_language) or browser_language(request)
            or accept_language(accept_language_header) or settings.LANGUAGE_CODE)


def direction(code: str) -> str:
    """"rtl" for a right-to-left language (Arabic), else "ltr": the `dir` of a customer's page."""
    try:
        return "rtl" if translation.get_language_info(code)["bidi"] else "ltr"
    except KeyError:
        return "ltr"
