"""Supervisors' survey settings (per channel, optionally per queue) and the surveys asked (read-only).

Registered from workflows.surveys.surveys_ready (the workflows app's admin module is the
workflows admin's own)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from workflows.surveys.models import Survey, SurveySetting


@admin.register(SurveySetting)
class SurveySettingAdmin(admin.ModelAdmin):
    list_display = ("channel", "queue", "is_enabled", "delay_seconds", "survey_auto_closed", "min_days_between",
                    "updated_at")
    list_filter = ("channel", "is_enabled")
    list_editable = ("is_enabled", "delay_seconds", "survey_auto_closed", "min_days_between")
    autocomplete_fields = ()
    fieldsets = (
        (None, {"fields": ("channel", "queue", "is_enabled")}),
        (_("When to ask"), {"fields": ("delay_seconds", "survey_auto_closed", "min_days_between")}),
    )


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation_id", "contact", "channel", "queue_key", "state", "score", "due_at",
                    "sent_at", "rated_at")
    list_filter = ("state", "channel", "score")
    search_fields = ("=conversation__id", "=contact__external_id", "queue_key")
    list_select_related = ("contact",)
    show_full_result_count = False
    readonly_fields = [field.name for field in Survey._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
