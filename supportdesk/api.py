"""Shared REST API pieces: the error shape for every 4xx and the default pagination.

(The JSON parser is in supportdesk.parsers and the schema class in supportdesk.schema: DRF
imports its settings' classes while `rest_framework.views` loads, before this module could.)"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_filters import rest_framework as filters
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from supportdesk.errors import DomainError, error_body


class DefaultCursorPagination(CursorPagination):
    """Stable pages over long, growing lists: newest first by creation time, then id."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request: Any) -> Any:
        # DRF answers a mangled cursor with 404, as if the list were missing; it is a bad
        # query parameter.
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["Invalid cursor: use the next or previous link "
                                           "of a page as it is."]}
            ) from None


def _summary(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _summary(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        inner = _summary(value)
        return inner if field == "non_field_errors" else f"{field}: {inner}"
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain and framework errors to `{"error": {"code", "message", "details"}}`."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("invalid", _summary(exc.detail), exc.detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, _summary(exc.detail))
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data["error"]["code"] = "not_authenticated"
    return response


class StrictInputMixin:
    """Refuse fields the input does not accept, instead of silently dropping them.

    Without this, `{"lifetime_order_value": 0}` would answer 200 and change nothing.
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))  # type: ignore[attr-defined]
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown or read-only field."] for name in unknown}
            )
        return super().validate(attrs)  # type: ignore[misc]


class IdFilter(filters.NumberFilter):
    """A filter on a database id: whole numbers only, so `?customer=1.5` is an error, not 1."""

    field_class = forms.IntegerField

