"""Admin for stored OMS webhook events: look, and send failed ones back for another try."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.text import Truncator

from integrations import services
from integrations.models import OmsEvent
from integrations.oms.schema import EVENT_TYPES
from supportdesk.admin import BigTableAdmin, pretty_json


class EventTypeFilter(admin.SimpleListFilter):
    """The types the OMS sends, without a SELECT DISTINCT over every event ever received."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(event_type, event_type) for event_type in sorted(EVENT_TYPES)]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(OmsEvent)
class OmsEventAdmin(BigTableAdmin):
    """What the OMS sent is evidence: every field is read-only; the action is the one write."""

    list_display = ("event_id", "event_type", "status", "attempts", "occurred_at",
                    "received_at", "processed_at", "error")
    list_filter = ("status", EventTypeFilter)
    search_fields = ("event_id__exact",)
    search_help_text = "Exact OMS event id."
    actions = ("retry_failed",)
    fields = ("event_id", "event_type", "status", "attempts", "last_error", "occurred_at",
              "received_at", "processed_at", "payload_pretty")
    readonly_fields = fields

    @admin.display(description="last error")
    def error(self, obj: OmsEvent) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.display(description="payload")
    def payload_pretty(self, obj: OmsEvent) -> str:
        return pretty_json(obj.payload)

    @admin.action(description="Retry selected failed events", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        event_ids = list(queryset.values_list("event_id", flat=True))
        retried = services.oms_events_retry(event_ids=event_ids)
        skipped = len(event_ids) - retried
        message = f"{retried} failed event(s) queued for another try."
        if skipped:
            message += f" {skipped} skipped: only failed events are retried."
        self.message_user(request, message, messages.SUCCESS if retried else messages.WARNING)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events arrive through the signed webhook only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> Any:
        # Change permission is there for the retry action; the form itself has nothing to save.
        extra_context = {**(extra_context or {}), "show_save": False,
                         "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)
