"""Middleware of the core."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

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
