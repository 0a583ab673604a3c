"""The OpenAPI schema class (set in REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"])."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

# The shape of every error answer (`error_body`), as the schema shows it.
ERROR_SERIALIZER = inline_serializer("Error", fields={
    "error": inline_serializer("ErrorDetail", fields={
        "code": serializers.CharField(help_text=_("Stable, machine-readable: invalid, not_found, ...")),
        "message": serializers.CharField(help_text=_("For people: what was wrong.")),
        "details": serializers.JSONField(required=False, help_text=_(
            "For `invalid`: the messages per field, as DRF gives them.")),
    }),
})

_ERROR_ANSWERS = {
    "400": _("The input is invalid (body, query or path)."),
    "401": _("Not signed in: no or a wrong token or session."),
    "403": _("Signed in, but not allowed to do this."),
    "404": _("No such object, or not one the caller may see."),
    "409": _("The object's state does not allow this now."),
    "429": _("Too many requests; wait and try again."),
}
_WRITE_ONLY_ANSWERS = {"409"}


def _model_field(field: serializers.Field) -> models.Field | None:
    """The model field a serializer field shows directly, if any."""
    parent = getattr(field, "parent", None)
    model = getattr(getattr(parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source or field.source == "*":
        return None
    try:
        model_field = model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return None
    return model_field if isinstance(model_field, models.Field) else None  # not a reverse relation


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus two truths it misses:

    - the error answers any operation can give, in the error shape, so every 4xx is documented;
    - that an input refusing unknown fields (StrictInputMixin) takes no other properties;
    - what a read-only field of a model serializer may hold: DRF drops `allow_blank` from
      read-only fields (and a declared field knows nothing of its column), so answers held ""
      or null where the schema promised an enum value, an email or a string. The model's
      `blank` and `null` say what the column may hold, and so what an answer may show.
    """

    def _map_basic_serializer(self, serializer: serializers.Serializer, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False  # StrictInputMixin answers other fields with a 400
        return schema

    def _map_serializer_field(self, field: serializers.Field, direction: str,
                              bypass_extensions: bool = False) -> dict[str, Any]:
        model_field = _model_field(field) if direction == "response" and field.read_only else None
        if model_field is not None:
            if model_field.null:
                field.allow_null = True
            if model_field.blank and isinstance(field, serializers.CharField | serializers.ChoiceField):
                field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in _ERROR_ANSWERS.items():
            if code in _WRITE_ONLY_ANSWERS and self.method in ("GET", "HEAD"):
                continue
            responses.setdefault(code, self._get_response_for_code(
                OpenApiResponse(ERROR_SERIALIZER, description=str(description)), code, direction=direction))
        return responses
