"""The widget's self-service over HTTP (conversations/services/self_service.py), mounted under
/widget/self-service. Like `POST /widget/session`, each call is token based: the JSON body
carries the widget's session token (no cookies, so no CSRF to guard against), and the answers are
the session's signed-in contact's only (conversations.access). Counted against the chat's
rate limits for the address and the visitor.

- `POST /widget/self-service` `{session}`: a customer's recent orders, a courier's delivery,
  a partner's store (nothing for an anonymous visitor).
- `POST /widget/self-service/answer` `{session, topic, order_id?, confirm?}`: one answer.
- `POST /widget/self-service/ask` `{session, text, client_id?}`: a first message, answered from
  self-service when it asks about an order (`answer`), else `{"answer": null}`: send it as a
  chat message.
- `POST /widget/self-service/agent` `{session, topic?, order_id?, text?, client_id?}`: "talk to
  an agent": a chat carrying the order; the widget's socket follows it on its next sync.

Each also takes the widget's `language` (the host's data-language) and the browser's `time_zone`;
refusals are in the customer's language (conversations.widget_requests).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from conversations import selectors, widget, widget_hours
from conversations.services import self_service
from conversations.widget_requests import (
    BadRequest,
    widget_body,
    widget_rate_limited,
    widget_refusal,
    widget_text,
    widget_token,
)
from supportdesk import languages, ratelimit
from supportdesk.errors import DomainError

BODY_EXAMPLE = '{"session": "<token>"}'


def _widget_call(view: Callable[..., dict[str, Any]]) -> Callable[[HttpRequest], JsonResponse]:
    """Parse the body, check the session and the rate limits, answer the view's dict as JSON and
    a refusal as the one error shape (401 for a bad session, 404 for what is not theirs), in the
    customer's language (conversations.widget_requests)."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def wrapped(request: HttpRequest) -> JsonResponse:
        try:
            data, widget_language = widget_body(request, example=BODY_EXAMPLE)
        except DomainError as error:
            return widget_refusal(error)
        with translation.override(languages.customer_language(widget_language=widget_language, request=request)):
            try:
                session = widget.session_decode(widget_token(data, "session"))
                address = request.META.get("REMOTE_ADDR", "unknown")
                wait = ratelimit.hit({
                    f"widget-self-service:ip:{address}": ratelimit.rate("CHAT_RATE_IP"),
                    f"widget-self-service:visitor:{session.contact_id or session.visitor}":
                        ratelimit.rate("CHAT_RATE_VISITOR"),
                })
                if wait:
                    return widget_rate_limited(wait)
                contact = selectors.visitor_contact(session) if session.contact_id else None
                language = languages.customer_language(
                    contact_language=contact.preferred_language if contact else "",
                    widget_language=widget_language, request=request)
                time_zone = widget_text(data, "time_zone", widget_hours.TIME_ZONE_MAX_CHARS)
                with translation.override(language):
                    return JsonResponse(view(data, session=session, language=language, time_zone=time_zone))
            except DomainError as error:
                return widget_refusal(error)

    return wrapped


def _order_id(data: dict[str, Any]) -> int | None:
    value = data.get("order_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(gettext("order_id must be the order's id (a number)."))
    return value


@_widget_call
def overview(data: dict[str, Any], *, session: widget.Session, language: str, time_zone: str) -> dict[str, Any]:
    return {"language": language,
            **self_service.self_service_overview(session=session, language=language, time_zone=time_zone)}


@_widget_call
def answer(data: dict[str, Any], *, session: widget.Session, language: str, time_zone: str) -> dict[str, Any]:
    confirm = data.get("confirm", False)
    if not isinstance(confirm, bool):
        raise BadRequest(gettext("confirm must be true or false."))
    given = self_service.self_service_answer(
        session=session, topic=widget_text(data, "topic", 32), order_id=_order_id(data), confirm=confirm,
        language=language, time_zone=time_zone, client_id=data.get("client_id") or "")
    return {"answer": given.as_json()}


@_widget_call
def ask(data: dict[str, Any], *, session: widget.Session, language: str, time_zone: str) -> dict[str, Any]:
    given = self_service.self_service_first_message(
        session=session, text=data.get("text"), language=language, time_zone=time_zone,
        client_id=data.get("client_id") or "")
    return {"answer": given.as_json() if given is not None else None}


@_widget_call
def agent(data: dict[str, Any], *, session: widget.Session, language: str, time_zone: str) -> dict[str, Any]:
    conversation = self_service.self_service_agent_chat(
        session=session, topic=widget_text(data, "topic", 32), order_id=_order_id(data),
        text=data.get("text") or "", client_id=data.get("client_id") or "")
    return {"conversation_id": conversation.pk}
