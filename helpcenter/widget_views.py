"""The help center in the chat widget (static/widget/articles.js), under /help/api/:

- `GET suggest/?q=&lang=`: up to three published articles in the visitor's language matching
  what they are typing, best first;
- `GET articles/<id>/`: one published article, to read inside the widget;
- `POST articles/<id>/read` (`{"session", "query", "answered"}`): the visitor opened it (and,
  with `answered`, it answered their question). Recorded as a self-service answer
  (conversations.deflection) with the title and address the help center has for that id, so a
  visitor cannot make the agent read text of their own choosing; the conversation they open
  next carries it.

Public and token based (no cookies, so no CSRF to ride on), rate-limited per address
(`HELP_WIDGET_RATE_IP`) and, for the reads, per visitor. Errors in the desk's JSON shape.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from conversations import widget
from helpcenter import access, search, services
from helpcenter.markdown import plain_text, summary_of
from supportdesk import languages, ratelimit
from supportdesk.errors import DomainError, error_json
from supportdesk.json_input import JsonInputError, json_loads

SUGGESTIONS = 3


def _limited(request: HttpRequest, *extra_keys: str) -> JsonResponse | None:
    """A 429 with Retry-After when the address (or the visitor) asked too often."""
    rate = ratelimit.rate("HELP_WIDGET_RATE_IP")
    keys = {f"help-widget:ip:{request.META.get('REMOTE_ADDR', 'unknown')}": rate}
    keys.update({key: rate for key in extra_keys})
    wait = ratelimit.hit(keys)
    if not wait:
        return None
    return error_json("rate_limited", f"Too many requests from your address; wait {wait:g} seconds.", 429,
                  **{"Retry-After": str(max(1, round(wait)))})


def _language(request: HttpRequest) -> str:
    """The widget's language (supportdesk.languages, as the rest of the widget): `lang` when
    given, which must be one the desk speaks to customers in; else the browser's, else English."""
    asked = request.GET.get("lang", "")
    if asked and not languages.supported(asked):
        raise DomainError(f"Unknown language {asked[:20]!r}; use a customer language such as es.",
                          code="unknown_language")
    return languages.customer_language(widget_language=asked, request=request)


def _article(version: Any) -> dict[str, Any]:
    return {"id": version.pk, "title": version.title, "language": version.language,
            "summary": version.summary or summary_of(plain_text(version.body_html)),
            "url": f"/help/{version.language}/{version.article.category.slug}/{version.slug}/"}


@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    if limited := _limited(request):
        return limited
    try:
        language = _language(request)
        hits = search.article_search(query=request.GET.get("q", ""), language=language, limit=SUGGESTIONS,
                                     match="any")
    except DomainError as error:
        return error_json(error.code, error.message, error.status_code)
    return JsonResponse({"language": language, "results": [
        {"id": hit.version_id, "title": hit.title, "summary": hit.snippet, "url": hit.path} for hit in hits]})


def _version_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # not "²" nor Arabic-Indic digits
        raise DomainError("There is no such article in the help center.", code="not_found")
    return int(raw)


@require_GET
def article(request: HttpRequest, version_id: str) -> JsonResponse:
    """The article's text, rendered and sanitised when it was saved (helpcenter.markdown)."""
    if limited := _limited(request):
        return limited
    try:
        version = access.version_published(_version_id(version_id))
    except DomainError as error:
        return error_json(error.code, error.message, 404)
    return JsonResponse({**_article(version), "body_html": version.body_html})


def _read_body(body: bytes) -> tuple[Any, str, bool]:
    """(session token, query, answered) from the request body; DomainError says what is wrong."""
    try:
        data = json_loads(body)
    except JsonInputError as error:
        raise DomainError(f'{error.message} The body must be JSON, e.g. {{"session": "<token>", '
                          f'"query": "where is my order", "answered": false}}.', code="bad_request") from None
    if not isinstance(data, dict):
        raise DomainError("The body must be a JSON object.", code="bad_request")
    query = data.get("query") or ""
    if not isinstance(query, str) or len(query) > search.MAX_QUERY_LENGTH * 2 or "\x00" in query:
        raise DomainError(f"query must be the text the visitor typed (at most {search.MAX_QUERY_LENGTH * 2} "
                          "characters).", code="bad_request")
    answered = data.get("answered", False)
    if not isinstance(answered, bool):
        raise DomainError("answered must be true or false.", code="bad_request")
    return data.get("session"), " ".join(query.split()), answered


@csrf_exempt  # token based: the visitor's session token is the access, no desk cookie is read
@require_POST
def article_read(request: HttpRequest, version_id: str) -> JsonResponse:
    try:
        token, query, answered = _read_body(request.body)
        session = access.widget_visitor(token)
    except widget.TokenInvalid as error:
        return error_json(error.code, error.message, 401)
    except DomainError as error:
        return error_json(error.code, error.message, error.status_code)
    visitor_key = f"help-widget:visitor:{session.contact_id or session.visitor}"
    if limited := _limited(request, visitor_key):
        return limited
    try:
        version = access.version_published(_version_id(version_id))
        recorded = services.widget_read_record(session=session, version=version, query=query, answered=answered)
    except widget.TokenInvalid as error:
        return error_json(error.code, error.message, 401)
    except DomainError as error:
        return error_json(error.code, error.message, 404 if error.code == "not_found" else error.status_code)
    return JsonResponse({"recorded": recorded, "article": _article(version)})
