"""Domain errors: exceptions with a stable code, mapped to HTTP in one place (supportdesk.api)."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse


class DomainError(Exception):
    """A use case refused its input. Subclasses set the code and the HTTP status."""

    code: str = "invalid"
    status_code: int = 400

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(DomainError):
    code = "not_found"
    status_code = 404


class Conflict(DomainError):
    code = "conflict"
    status_code = 409


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one JSON shape every 4xx (and the rare 5xx) answer has."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def error_json(code: str, message: str, status: int, **headers: str) -> JsonResponse:
    """The error shape as a plain Django response, with headers (`Retry-After`), for the
    token-based endpoints outside REST framework (the widget's, the help center's)."""
    response = JsonResponse(error_body(code, message), status=status)
    for name, value in headers.items():
        response[name] = value
    return response
