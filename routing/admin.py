"""Admin for agents' routing profiles, also editable on the user's own page."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import models
from django.http import HttpRequest

from routing.models import AgentProfile

# Kept here rather than imported from timeline: routing matches plain attributes and
# knows nothing of contacts.
CONTACT_KINDS = (("customer", "Customer"), ("courier", "Courier"), ("partner", "Partner"))


class AgentProfileForm(forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = ("user", "languages", "contact_kinds")

    def clean_languages(self) -> list[str]:
        # Order matters (native first); case and repeats do not.
        languages: list[str] = []
        for code in self.cleaned_data["languages"]:
            code = code.strip().lower()
            if code and code not in languages:
                languages.append(code)
        return languages

    def clean_contact_kinds(self) -> list[str]:
        kinds = self.cleaned_data["contact_kinds"]
        known = [value for value, _ in CONTACT_KINDS]
        unknown = [kind for kind in kinds if kind not in known]
        if unknown:
            raise forms.ValidationError(
                f"Unknown contact kind {', '.join(unknown)}; use {', '.join(known)}."
            )
        return kinds


class LanguageFilter(admin.SimpleListFilter):
    """Agents who speak a language (anywhere in their list, not only natively)."""

    title = "language"
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
    title = "contact kind"
    parameter_name = "contact_kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> tuple:
        return CONTACT_KINDS

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.value():
            return queryset.filter(contact_kinds__contains=[self.value()])
        return queryset


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    form = AgentProfileForm
    list_display = ("user", "full_name", "languages_list", "contact_kinds_list", "is_active",
                    "updated_at")
    list_select_related = ("user",)
    list_filter = (LanguageFilter, ContactKindFilter, "user__is_active")
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email")
    ordering = ("user__username",)
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="name", ordering="user__first_name")
    def full_name(self, obj: AgentProfile) -> str:
        return obj.user.get_full_name()

    @admin.display(description="languages")
    def languages_list(self, obj: AgentProfile) -> str:
        return ", ".join(obj.languages)

    @admin.display(description="contact kinds")
    def contact_kinds_list(self, obj: AgentProfile) -> str:
        return ", ".join(obj.contact_kinds)

    @admin.display(description="active", boolean=True, ordering="user__is_active")
    def is_active(self, obj: AgentProfile) -> bool:
        return obj.user.is_active


class AgentProfileInline(admin.StackedInline):
    model = AgentProfile
    form = AgentProfileForm
    fields = ("languages", "contact_kinds")
    can_delete = False
    max_num = 1
    verbose_name_plural = "agent profile"


User = get_user_model()


class AgentUserAdmin(UserAdmin):
    """The user page with the routing profile under it, so one page sets up an agent."""

    inlines = (*UserAdmin.inlines, AgentProfileInline)


# django.contrib.auth comes first in INSTALLED_APPS, so its admin is registered already.
if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AgentUserAdmin)
