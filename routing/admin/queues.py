"""Queues: their service level, the agents they need, how offers are made."""

from __future__ import annotations

from django.contrib import admin
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from routing import services
from routing.admin.mixins import GuardedDeleteMixin, RoutingAuditMixin
from routing.forms import QueueForm
from routing.models import Queue


@admin.register(Queue)
class QueueAdmin(GuardedDeleteMixin, RoutingAuditMixin, admin.ModelAdmin):
    form = QueueForm
    list_display = ("key", "name", "priority", "strategy", "target_wait_seconds", "business_hours",
                    "assign_directly", "offer_timeout_seconds", "overflow_queue", "is_active")
    list_select_related = ("overflow_queue", "business_hours")
    list_filter = ("is_active", "strategy", "assign_directly", "min_agent_tier")
    search_fields = ("key", "name")
    ordering = ("-priority", "key")
    autocomplete_fields = ("overflow_queue", "business_hours")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("key", "name", "priority", "strategy", "is_active")}),
        (_("Service level"), {"fields": ("target_wait_seconds", "escalate_at_percent",
                                      "escalation_priority_boost", "overflow_queue",
                                      "overflow_after_seconds")}),
        (_("Business hours"), {"fields": ("business_hours",)}),
        (_("Agents"), {"fields": ("required_skills", "optional_skills", "relax_optional_after_seconds",
                               "min_agent_tier")}),
        (_("Offers"), {"fields": ("assign_directly", "offer_timeout_seconds")}),
        (_("Email"), {"fields": ("new_email_while_open",)}),
        (_("Record"), {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    def routing_save(self, request: HttpRequest, obj: Queue, *, form: ModelForm,
                     formsets: list[BaseFormSet] | None, change: bool) -> None:
        if formsets is None:  # a queue has no inlines
            services.queue_save(queue=obj, actor=request.user)

    def delete_blocked(self, obj: Queue) -> bool:
        # Items hold their queue (PROTECT); the confirmation page would list every one of them.
        return obj.items.exists()
