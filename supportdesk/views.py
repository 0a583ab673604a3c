"""Process-level endpoints: health, readiness, JSON errors outside DRF views."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from supportdesk.errors import error_body
from supportdesk.health import readiness

_JSON_PREFIXES = ("/api/", "/integrations/", "/healthz", "/readyz")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    problems = {part: error for part, error in readiness().items() if error}
    if problems:
        return JsonResponse(
            {"status": "unavailable", "failing": sorted(problems), "errors": problems}, status=503
        )
    return JsonResponse({"status": "ready", "checks": {"database": "ok", "redis": "ok"}})


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(_JSON_PREFIXES) or "application/json" in request.headers.get(
        "Accept", ""
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", "The server failed to answer; the error is logged."),
            status=500,
        )
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
