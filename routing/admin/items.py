"""Work items and their history, read-only."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from routing.models import (
    CHANNELS,
    ItemState,
    WorkItem,
    WorkItemEvent,
)
from supportdesk.admin import BigTableAdmin, ReadOnlyAdminMixin, pretty_json
from supportdesk.ids import id_from_text


class ChannelFilter(admin.SimpleListFilter):
    title = _("channel")
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(channel, channel) for channel in CHANNELS]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(channel=self.value()) if self.value() else queryset


def _duration(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def item_waited(item: WorkItem, *, now: datetime) -> timedelta:
    """From enqueued to reaching its agent (offered or assigned); to now while it waits, to
    its end when it closed before reaching anyone."""
    reached = item.offered_at or item.assigned_at
    end = reached or (now if item.state == ItemState.WAITING else item.completed_at or now)
    return end - item.enqueued_at


class WorkItemEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WorkItemEvent
    fields = ("at", "kind", "agent", "queue", "detail_json")
    readonly_fields = fields
    extra = 0
    ordering = ("at", "id")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).select_related("agent__user", "queue")

    @admin.display(description=_("detail"))
    def detail_json(self, obj: WorkItemEvent) -> str:
        return pretty_json(obj.detail) if obj.detail else ""


@admin.register(WorkItem)
class WorkItemAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("id", "conversation_id", "channel", "language", "contact_kind", "queue", "state", "agent_name",
                    "priority", "enqueued_at", "waited", "breached")
    list_select_related = ("queue", "agent__user")
    list_filter = ("state", ChannelFilter, "queue")
    search_fields = ("conversation_id__exact",)
    search_help_text = _("Exact conversation id.")
    inlines = (WorkItemEventInline,)
    fieldsets = (
        (None, {"fields": ("conversation_id", "channel", "language", "contact_kind", "queue", "state", "agent",
                           "rule", "priority", "queue_priority", "attributes_json")}),
        (_("Skills"), {"fields": ("required_skills", "optional_skills", "optional_relaxed", "min_agent_tier",
                               "declined_by")}),
        (_("Times"), {"fields": ("enqueued_at", "queued_at", "offered_at", "offer_expires_at", "assigned_at",
                              "completed_at", "escalated_at", "sla_breached_at", "waited")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: WorkItem | None = None) -> tuple:
        return tuple(name for fieldset in self.fieldsets for name in fieldset[1]["fields"])

    def get_search_results(self, request: HttpRequest, queryset: models.QuerySet,
                           search_term: str) -> tuple[models.QuerySet, bool]:
        # A conversation id is a number: anything else finds nothing, not an error.
        if search_term.strip() and id_from_text(search_term) is None:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("agent"), ordering="agent__user__username")
    def agent_name(self, obj: WorkItem) -> str:
        return obj.agent.user.get_username() if obj.agent_id else ""

    @admin.display(description=_("waited"))
    def waited(self, obj: WorkItem) -> str:
        return _duration(item_waited(obj, now=timezone.now()))

    @admin.display(description=_("breached"), boolean=True, ordering="sla_breached_at")
    def breached(self, obj: WorkItem) -> bool:
        return obj.sla_breached_at is not None

    @admin.display(description=_("attributes"))
    def attributes_json(self, obj: WorkItem) -> str:
        return pretty_json(obj.attributes)


@admin.register(WorkItemEvent)
class WorkItemEventAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("id", "at", "kind", "item_link", "agent_name", "queue")
    list_select_related = ("queue", "agent__user")
    search_fields = ("item__id__exact",)
    search_help_text = _("Exact work item id.")
    fields = ("item", "kind", "at", "agent", "queue", "detail_json")
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: models.QuerySet,
                           search_term: str) -> tuple[models.QuerySet, bool]:
        if search_term.strip() and id_from_text(search_term) is None:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("item"), ordering="item_id")
    def item_link(self, obj: WorkItemEvent) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:routing_workitem_change", args=[obj.item_id]),
                           obj.item_id)

    @admin.display(description=_("agent"))
    def agent_name(self, obj: WorkItemEvent) -> str:
        return obj.agent.user.get_username() if obj.agent_id else ""

    @admin.display(description=_("detail"))
    def detail_json(self, obj: WorkItemEvent) -> str:
        return pretty_json(obj.detail) if obj.detail else ""
