"""Process-level endpoints: health, readiness, JSON errors outside DRF views."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from supportdesk.errors import error_body
from supportdesk.health import readiness
from supportdesk.unavailable import MESSAGE as UNAVAILABLE_MESSAGE
from supportdesk.unavailable import database_unavailable, retry_after_seconds, unavailable_body

_JSON_PREFIXES = ("/api/", "/integrations/", "/healthz", "/readyz", "/widget/session")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    state = readiness()
    problems = {part: error for part, error in state["checks"].items() if error}
    if problems:
        return JsonResponse({"status": "unavailable", "failing": sorted(problems), "errors": problems,
                             "heartbeats": state["heartbeats"]}, status=503)
    return JsonResponse({"status": "ready", "checks": dict.fromkeys(state["checks"], "ok"),
                         "heartbeats": state["heartbeats"]})


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(_JSON_PREFIXES) or "application/json" in request.headers.get(
        "Accept", ""
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def unavailable(request: HttpRequest) -> HttpResponse:
    """503 for a database that cannot be reached: the error shape for machines, a short
    page for people; both say when to try again."""
    if _wants_json(request):
        response: HttpResponse = JsonResponse(unavailable_body(), status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {
            "message": UNAVAILABLE_MESSAGE, "retry_after": retry_after_seconds(), "path": request.path,
        }), status=503)
    response["Retry-After"] = str(retry_after_seconds())
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its `except`: a database that failed outside any view (in a
    # middleware, saving the session) is still a 503, not a 500.
    if database_unavailable(sys.exc_info()[1] or Exception()):
        return unavailable(request)
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", "The server failed to answer; the error is logged."),
            status=500,
        )
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
