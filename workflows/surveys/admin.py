"""Supervisors' survey settings (per channel, optionally per queue) and the surveys asked (read-only);
supervisors only (workflows.access), whatever Django model permissions a staff account holds.

Registered from workflows.surveys.surveys_ready (the workflows app's admin module is the
workflows admin's own)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from workflows.admin.mixins import SupervisorOnlyAdminMixin, SupervisorReadOnlyAdminMixin
from workflows.surveys.models import Survey, SurveySetting


@admin.register(SurveySetting)
class SurveySettingAdmin(SupervisorOnlyAdminMixin, admin.ModelAdmin):
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
class SurveyAdmin(SupervisorReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "conversation_number", "contact", "channel", "queue_key", "state", "score", "due_at",
                    "sent_at", "rated_at")
    list_filter = ("state", "channel", "score")
    search_fields = ("=conversation__id", "=contact__external_id", "queue_key")
    list_select_related = ("contact",)
    show_full_result_count = False
    readonly_fields = [field.name for field in Survey._meta.fields]

    @admin.display(description=_("conversation"), ordering="conversation_id")
    def conversation_number(self, obj: Survey) -> int:
        return obj.conversation_id
