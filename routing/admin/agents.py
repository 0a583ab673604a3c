"""Agents' routing settings, on their own page and under the user's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from routing import services
from routing.admin.mixins import GuardedDeleteMixin, RoutingAuditMixin, names
from routing.audit import audit_record, routing_snapshot
from routing.forms import AgentProfileForm
from routing.models import (
    CHANNELS,
    CONTACT_KIND_NAMES,
    CONTACT_KINDS,
    HELD_STATES,
    AgentProfile,
)


class LanguageFilter(admin.SimpleListFilter):
    """Agents who speak a language (anywhere in their list, not only natively)."""

    title = _("language")
    parameter_name = "language"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        languages: set[str] = set()
        # Thousands of agents at most: reading the lists is cheaper than it sounds.
        for row in AgentProfile.objects.values_list("languages", flat=True).iterator():
            languages.update(row)
        return [(code, code) for code in sorted(languages)]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(languages__contains=[self.value()]) if self.value() else queryset


class ContactKindFilter(admin.SimpleListFilter):
    title = _("contact kind")
    parameter_name = "contact_kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(kind, CONTACT_KIND_NAMES[kind]) for kind in CONTACT_KINDS]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.value():
            return queryset.filter(contact_kinds__contains=[self.value()])
        return queryset


@admin.register(AgentProfile)
class AgentProfileAdmin(GuardedDeleteMixin, RoutingAuditMixin, admin.ModelAdmin):
    form = AgentProfileForm
    list_display = ("user", "full_name", "languages_list", "contact_kinds_list", "skills_list", "tier",
                    "capacity_summary", "presence", "presence_since", "last_heartbeat_at", "last_assigned_at",
                    "missed_offers", "is_active")
    list_select_related = ("user",)
    list_filter = ("presence", LanguageFilter, ContactKindFilter, "tier", "user__is_active")
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email")
    ordering = ("user__username",)
    autocomplete_fields = ("user",)
    readonly_fields = ("presence", "presence_since", "last_heartbeat_at", "last_assigned_at", "missed_offers",
                       "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("user", "languages", "contact_kinds", "skills", "tier", "capacity",
                           "no_chats_on_call")}),
        (_("Now (set by the agent's desk and the router)"), {
            "fields": ("presence", "presence_since", "last_heartbeat_at", "last_assigned_at", "missed_offers"),
        }),
        (_("Record"), {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    @admin.display(description=_("name"), ordering="user__first_name")
    def full_name(self, obj: AgentProfile) -> str:
        return obj.user.get_full_name()

    @admin.display(description=_("languages"))
    def languages_list(self, obj: AgentProfile) -> str:
        return names(obj.languages)

    @admin.display(description=_("contact kinds"))
    def contact_kinds_list(self, obj: AgentProfile) -> str:
        return names(obj.contact_kinds)

    @admin.display(description=_("skills"))
    def skills_list(self, obj: AgentProfile) -> str:
        return names(obj.skills)

    @admin.display(description=_("capacity"))
    def capacity_summary(self, obj: AgentProfile) -> str:
        return ", ".join(f"{channel} {obj.capacity_for(channel)}" for channel in CHANNELS)

    @admin.display(description=_("active"), boolean=True, ordering="user__is_active")
    def is_active(self, obj: AgentProfile) -> bool:
        return obj.user.is_active

    def routing_save(self, request: HttpRequest, obj: AgentProfile, *, form: ModelForm,
                     formsets: list[BaseFormSet] | None, change: bool) -> None:
        if formsets is None:  # no inlines
            services.agent_settings_save(profile=obj, actor=request.user)

    def delete_blocked(self, obj: AgentProfile) -> bool:
        # Their offered and assigned items would be left held by nobody: setting the agent
        # offline first returns them to their queues.
        return obj.items.filter(state__in=HELD_STATES).exists()


class AgentProfileInline(admin.StackedInline):
    model = AgentProfile
    form = AgentProfileForm
    fields = ("languages", "contact_kinds", "skills", "tier", "capacity", "presence", "last_assigned_at")
    readonly_fields = ("presence", "last_assigned_at")
    can_delete = False
    max_num = 1
    verbose_name_plural = _("agent profile")


User = get_user_model()


class AgentUserAdmin(UserAdmin):
    """The user page with the routing profile under it, so one page sets up an agent."""

    inlines = (*UserAdmin.inlines, AgentProfileInline)

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: list[BaseFormSet],
                     change: bool) -> None:
        existing = AgentProfile.objects.filter(user_id=form.instance.pk).first()
        before = routing_snapshot(existing) if existing is not None else None
        super().save_related(request, form, formsets, change)
        profile = AgentProfile.objects.filter(user_id=form.instance.pk).first()
        if profile is None:
            return
        after = routing_snapshot(profile)
        if audit_record(actor=request.user, obj=profile, instance_before=before, instance_after=after):
            services.configure.agent_settings_changed_on_commit(profile.pk)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        profile = AgentProfile.objects.filter(user_id=obj.pk).first()
        if profile is not None:
            audit_record(actor=request.user, obj=profile, instance_before=routing_snapshot(profile),
                         instance_after=None)
        super().delete_model(request, obj)


# django.contrib.auth comes first in INSTALLED_APPS, so its admin is registered already.
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AgentUserAdmin)
