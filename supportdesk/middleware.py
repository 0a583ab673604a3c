"""Middleware of the core."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin

from supportdesk import metrics
from supportdesk.logs import log_id_reset, log_id_set, request_id_for
from supportdesk.unavailable import database_unavailable
from supportdesk.views import unavailable

log = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A view that fails because PostgreSQL cannot be reached answers 503 (JSON or a page,
    see supportdesk.views.unavailable), not a 500 with a stack trace, whatever DEBUG says.
    What fails outside a view (in another middleware) reaches the 500 handler, which
    answers the same."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        log.warning("Database unavailable for %s %s: %s", request.method, request.path,
                    str(exception).strip() or type(exception).__name__)
        return unavailable(request)


class RequestIdMiddleware:
    """Gives the request its id (the caller's sane `X-Request-ID`, else a new one) for every
    line logged while it is handled, and answers it back in `X-Request-ID`; times it for
    /metrics (supportdesk.metrics)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self._acall(request)
        request_id = request_id_for(request.headers.get("X-Request-ID"))
        token, began = log_id_set(request_id), time.monotonic()
        try:
            response = self.get_response(request)
        finally:
            log_id_reset(token)
        return _answered(response, request_id, began)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request.headers.get("X-Request-ID"))
        token, began = log_id_set(request_id), time.monotonic()
        try:
            response = await self.get_response(request)
        finally:
            log_id_reset(token)
        return _answered(response, request_id, began)


def _answered(response: HttpResponse, request_id: str, began: float) -> HttpResponse:
    """The response with its request id, its latency counted for /metrics by status class."""
    response["X-Request-ID"] = request_id
    metrics.observe("http_request_duration_seconds", time.monotonic() - began,
                    {"status": f"{response.status_code // 100}xx"})
    return response


class DeskLanguageMiddleware:
    """The desk's pages in the language their user chose (the `desk_language` cookie, one of
    DESK_LANGUAGES, set from the header's language form), English otherwise. Not Django's
    LocaleMiddleware: it would follow every browser's Accept-Language into pages that ship
    in English and Spanish only, and into the admin. Customers' pages choose their own
    language inside translation.override (supportdesk.languages), which wins over this.
    An override around the request, not activate(): nothing stays active in the thread for
    the next request (a streamed body is written after it, in English)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.DESK_LANGUAGE_COOKIE, "")
        if chosen not in settings.DESK_LANGUAGES or chosen == settings.LANGUAGE_CODE:
            return self.get_response(request)
        with translation.override(chosen):
            response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        return response
