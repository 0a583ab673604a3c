"""Shared REST API pieces: the error shape for every 4xx and the default pagination.

(The JSON parser is in supportdesk.parsers and the schema class in supportdesk.schema: DRF
imports its settings' classes while `rest_framework.views` loads, before this module could.)"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.db import models as db_models
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from supportdesk.errors import DomainError, error_body
from supportdesk.unavailable import database_unavailable, retry_after_seconds, unavailable_body

log = logging.getLogger(__name__)


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


def detail_summary(detail: Any) -> str:
    """The first message in a DRF error detail, with its field: one line for a page or an error body."""
    if isinstance(detail, list) and detail:
        return detail_summary(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        inner = detail_summary(value)
        return inner if field == "non_field_errors" else f"{field}: {inner}"
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain and framework errors to `{"error": {"code", "message", "details"}}`."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if database_unavailable(exc):
        return Response(unavailable_body(), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(retry_after_seconds())})
    if isinstance(exc, DataError):
        # A value PostgreSQL refused (out of its range, NUL in text...): input is validated before
        # it gets there, so this is a gap in that validation, logged to be closed, and still the
        # caller's input rather than the server's failure.
        log.warning("Input refused by the database: %s", exc, exc_info=True)
        set_rollback()
        return Response(error_body("invalid", str(_("A value is outside what the desk can store."))),
                        status=status.HTTP_400_BAD_REQUEST)
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
        response.data = error_body("invalid", detail_summary(exc.detail), exc.detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, detail_summary(exc.detail))
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data["error"]["code"] = "not_authenticated"
    return response


class StrictInputMixin:
    """Refuse fields the input does not accept, instead of silently dropping them.

    Without this, `{"lifetime_order_value": 0}` would answer 200 and change nothing.
    """

    refuses_unknown_fields = True  # the schema says so too (supportdesk.schema)

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



def moment_in_utc(moment: datetime) -> datetime:
    """An aware date-time in UTC (a naive one is read in the current time zone first), so the
    database never sees an offset it does not take (PostgreSQL's stop at 15:59, Python's at
    23:59). OverflowError when the moment has no UTC value inside Python's calendar (year 1 at
    +14:00, year 9999 at -14:00)."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.astimezone(UTC)


class UtcIsoDateTimeField(filter_fields.IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC before it reaches a query.

    PostgreSQL takes offsets of at most 15:59 while Python takes up to 23:59, and a date at the
    edge of the calendar (year 1 at +14:00) has no UTC value at all: both were a 500 from the
    database. In UTC every value Python holds is one PostgreSQL holds too.
    """

    default_error_messages = {"overflow": _("This date and time is outside the calendar once in UTC.")}

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value is None:
            return value
        try:
            return moment_in_utc(value)
        except OverflowError:
            raise DjangoValidationError(self.error_messages["overflow"], code="overflow") from None


class UtcIsoDateTimeRangeField(filter_fields.RangeField):
    widget = filter_fields.DateRangeWidget

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__((UtcIsoDateTimeField(), UtcIsoDateTimeField()), *args, **kwargs)


class DateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class DateTimeRangeFilter(filters.IsoDateTimeFromToRangeFilter):
    """`<name>_after` and/or `<name>_before`, ISO 8601, both ends included, converted to UTC."""

    field_class = UtcIsoDateTimeRangeField


class FilterSet(filters.FilterSet):
    """The API's filter sets: a date-time filter generated from a model field is UTC-safe too."""

    FILTER_DEFAULTS = {**filters.FilterSet.FILTER_DEFAULTS,
                       db_models.DateTimeField: {"filter_class": DateTimeFilter}}


class Router(DefaultRouter):
    """The API's router: an object's id in a path is ASCII digits, so `/contacts/abc/` (or `null,null`,
    or `٣`, which `\\d` and int() read as 3) is the same 404 as a missing object, whatever the view
    then does with the id (int() or a query)."""

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        if getattr(viewset, "lookup_field", "pk") not in ("pk", "id"):
            return super().get_lookup_regex(viewset, lookup_prefix)
        return self._base_pattern.format(lookup_prefix=lookup_prefix, lookup_value=ID_PATTERN,
                                         lookup_url_kwarg=getattr(viewset, "lookup_url_kwarg", None) or "pk")


ID_PATTERN = r"[0-9]+"
