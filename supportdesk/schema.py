"""The OpenAPI schema class (set in REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"])."""

from __future__ import annotations

from typing import Any

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


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers any operation can give, in the
    error shape: the schema tells clients (and the fuzzer) the truth about every 4xx."""

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
