"""The customer chat widget over HTTP: the session it starts with, the page inside its
iframe, and a demo host page. The chat itself runs over the visitor socket (consumers).

`POST /widget/session` is token based (no cookies), so it is exempt from CSRF: a host
page's visitor carries no desk cookie a forged request could ride on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from conversations import access, selectors, services, widget, widget_hours
from conversations.widget_requests import (
    BadRequest,
    widget_body,
    widget_rate_limited,
    widget_refusal,
    widget_token,
)
from conversations.widget_words import widget_words
from supportdesk import languages, ratelimit
from supportdesk.errors import DomainError
from timeline.models import ContactKind
from timeline.selectors import contact_list

WS_PATH = "/ws/chat/"
DEMO_CONTACTS_PER_KIND = 3
BODY_EXAMPLE = '{"identity": "<token>", "session": "<token>", "time_zone": "Europe/Madrid"}'


def _tokens(data: dict[str, Any]) -> tuple[str, str, str]:
    """(identity token, previous session token, the browser's time zone) from the request body;
    BadRequest says what is wrong."""
    tokens = [widget_token(data, name) for name in ("identity", "session")]
    time_zone = data.get("time_zone") or ""
    if not isinstance(time_zone, str) or len(time_zone) > widget_hours.TIME_ZONE_MAX_CHARS:
        raise BadRequest(gettext("time_zone must be an IANA time zone name such as Europe/Madrid "
                                 "(at most %(max)s characters).") % {"max": widget_hours.TIME_ZONE_MAX_CHARS})
    return tokens[0], tokens[1], time_zone.strip()


@csrf_exempt
@require_POST
def session_start(request: HttpRequest) -> JsonResponse:
    """Who the widget speaks for, and the token its socket presents."""
    # Counted before the body is read, so a flood of malformed requests counts too.
    wait = ratelimit.hit({f"widget-session:ip:{request.META.get('REMOTE_ADDR', 'unknown')}":
                          ratelimit.rate("CHAT_RATE_CONNECT_IP")})
    try:
        data, widget_language = widget_body(request, example=BODY_EXAMPLE)
    except DomainError as error:
        if not wait:
            return widget_refusal(error)
        data, widget_language = {}, ""  # the 429 outranks it, in the browser's language
    with translation.override(languages.customer_language(widget_language=widget_language, request=request)):
        if wait:
            return widget_rate_limited(wait)
        try:
            identity_token, session_token, time_zone = _tokens(data)
            session = services.visitor_session_start(identity_token=identity_token, session_token=session_token)
        except DomainError as error:
            return widget_refusal(error)
    contact = selectors.visitor_contact(session)
    # Only now is the contact known: their language outranks the frame's first guess.
    language = languages.customer_language(
        contact_language=contact.preferred_language if contact and session.contact_id else "",
        widget_language=widget_language, request=request)
    with translation.override(language):
        words = widget_words()
    return JsonResponse({
        "language": language,
        "dir": languages.direction(language),
        "words": words,
        # The widget's setting goes with the session to the socket, which cannot read it otherwise.
        "session": widget.session_encode(replace(session, language=languages.supported(widget_language))),
        "ws_path": WS_PATH,
        "anonymous": not session.contact_id,
        "has_email": bool(contact and contact.email),
        "agents_online": selectors.agents_online(),
        # An anonymous visitor is not greeted by the name of whoever wrote in before them.
        "name": contact.name if contact and session.contact_id else "",
        # Outside the business hours of the queue their chat would reach: when the team is back,
        # and email instead (None while it is open).
        "hours": widget_hours.hours_notice(contact=contact, time_zone=time_zone, text_language=language,
                                           browser_language=translation.get_language_from_request(request)),
    })


@xframe_options_exempt  # it runs inside an iframe on any host site
@require_GET
def frame(request: HttpRequest) -> HttpResponse:
    """The chat's page, in the widget's language (`?lang=`, from the embed snippet's
    `data-language`) or the browser's; the session may switch it to the contact's."""
    widget_language = languages.supported(request.GET.get("lang", ""))
    language = languages.customer_language(widget_language=widget_language, request=request)
    with translation.override(language):
        words = widget_words()
        response = render(request, "widget/frame.html", {
            "message_max_chars": settings.CHAT_MESSAGE_MAX_CHARS, "language": language,
            "direction": languages.direction(language), "widget_language": widget_language,
            "words": words, "words_json": json.dumps(words, ensure_ascii=False)})
        patch_vary_headers(response, ("Accept-Language",))
        return response


def _demo_may_impersonate(request: HttpRequest) -> bool:
    # The demo signs an identity for any contact it lists, so outside development it is for
    # supervisors only (the one definition; staff alone is not one).
    return settings.DEBUG or access.is_supervisor(request.user)


def _demo_contacts() -> list[dict[str, Any]]:
    groups = []
    for kind, label in ContactKind.choices:
        contacts = list(contact_list().filter(kind=kind).exclude(external_id__startswith="visitor-")
                        .order_by("pk")[:DEMO_CONTACTS_PER_KIND])
        if contacts:
            groups.append({"kind": kind, "label": label, "contacts": contacts})
    return groups


@require_GET
def demo(request: HttpRequest) -> HttpResponse:
    """A small shop that embeds the widget, as a real host site would: the page picks who the
    visitor is and signs their identity on the server."""
    may_impersonate = _demo_may_impersonate(request)
    groups = _demo_contacts() if may_impersonate else []
    chosen = request.GET.get("as", "")
    visitor = next((contact for group in groups for contact in group["contacts"] if str(contact.pk) == chosen),
                   None)
    identity_token = ""
    if visitor is not None:
        identity_token = widget.identity_encode(widget.Identity(
            external_id=visitor.external_id, kind=visitor.kind, name=visitor.name, email=visitor.email,
            language=visitor.preferred_language))
    return render(request, "widget/demo.html", {
        "groups": groups, "visitor": visitor, "identity_token": identity_token,
        "may_impersonate": may_impersonate, "unknown_choice": bool(chosen) and visitor is None,
        # ?lang=ar plays a host site whose snippet sets data-language (supportdesk.languages).
        "widget_language": languages.supported(request.GET.get("lang", "")),
    })
