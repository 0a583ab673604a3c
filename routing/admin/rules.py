"""Routing rules with their conditions edited as rows, and the dry run of the rules.

A rule's condition is edited as rows and assembled into the one JSON condition the
engine reads (`routing.rules`), after the forms (`routing.forms`) made every mistake a
form error."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from routing import services
from routing.admin.mixins import RoutingAuditMixin, names
from routing.forms import (
    DryRunForm,
    RoutingRuleForm,
    RuleConditionForm,
    RuleConditionFormSet,
)
from routing.models import (
    AgentProfile,
    RoutingRule,
    RuleCondition,
)
from routing.rules import ConditionRow, condition_assemble
from supportdesk.admin import pretty_json
from supportdesk.errors import DomainError


class RuleConditionInline(admin.TabularInline):
    model = RuleCondition
    form = RuleConditionForm
    formset = RuleConditionFormSet
    fields = ("group", "attribute", "op", "value", "position")
    verbose_name = _("condition")
    verbose_name_plural = _("conditions: rows with the same group number, any one holds; every group holds; "
                           "no rows match everything")

    def get_extra(self, request: HttpRequest, obj: RoutingRule | None = None, **kwargs: Any) -> int:
        return 1 if obj is not None else 3


def _conditions_formset(formsets: list[BaseFormSet]) -> BaseFormSet | None:
    return next((formset for formset in formsets if formset.model is RuleCondition), None)


@admin.register(RoutingRule)
class RoutingRuleAdmin(RoutingAuditMixin, admin.ModelAdmin):
    form = RoutingRuleForm
    inlines = (RuleConditionInline,)
    list_display = ("position", "name", "is_active", "condition_summary", "queue_key", "priority",
                    "skills_summary", "updated_at")
    list_display_links = ("name",)
    list_editable = ("position", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "queue_key")
    ordering = ("position", "id")
    readonly_fields = ("assembled_condition", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "position", "is_active")}),
        (_("Route to"), {"fields": ("queue_key", "priority", "required_skills", "optional_skills")}),
        (_("Condition"), {"fields": ("assembled_condition",)}),
        (_("Record"), {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    @admin.display(description=_("condition"))
    def condition_summary(self, obj: RoutingRule) -> str:
        return condition_text(obj.condition)

    @admin.display(description=_("skills"))
    def skills_summary(self, obj: RoutingRule) -> str:
        optional = [f"{skill}?" for skill in obj.optional_skills]
        return names([*obj.required_skills, *optional])

    @admin.display(description=_("condition the router reads"))
    def assembled_condition(self, obj: RoutingRule) -> str:
        if obj.pk is None:
            return gettext("Assembled from the rows below when saved.")
        rows = [ConditionRow(group=row.group, attribute=row.attribute, op=row.op, value=row.value)
                for row in obj.conditions.all()]
        shown = format_html("<p>{}</p>{}", condition_text(obj.condition), pretty_json(obj.condition))
        if condition_assemble(rows) != (obj.condition or {"all": []}):
            # Written elsewhere (the API, a script): saving keeps it unless the rows change.
            return format_html('{}<p class="errornote">{}</p>', shown, gettext(
                "This condition was not made from the rows below. Saving keeps it as long as the rows stay "
                "as they are; add, change or delete a row and the rows replace it."))
        return shown

    def routing_save(self, request: HttpRequest, obj: RoutingRule, *, form: ModelForm,
                     formsets: list[BaseFormSet] | None, change: bool) -> None:
        if formsets is None:
            form.save()  # the rule first, for its condition rows to point at
            return
        # Then the service, once the inline wrote the rows: the condition is assembled from
        # them when they changed, the rule audited as it was before either write.
        conditions = _conditions_formset(formsets)
        rows_changed = conditions is not None and bool(
            conditions.new_objects or conditions.changed_objects or conditions.deleted_objects)
        services.rule_save(rule=obj, actor=request.user, rebuild=not change or rows_changed,
                           before=obj._routing_before)

    def get_urls(self) -> list[URLPattern]:
        dry_run = path("dry-run/", self.admin_site.admin_view(self.dry_run_view),
                       name="routing_routingrule_dry_run")
        return [dry_run, *super().get_urls()]

    def dry_run_view(self, request: HttpRequest) -> HttpResponse:
        """Where would an item with these attributes go, and who would get it? Reads only."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = DryRunForm(request.GET if "channel" in request.GET else None)
        result = None
        if form.is_valid():
            try:
                result = dry_run(form)
            except DomainError as exc:
                form.add_error(None, str(exc))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": gettext("Routing dry run"),
            "form": form, "result": result,
        }
        return TemplateResponse(request, "admin/routing/routingrule/dry_run.html", context)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "routing_attributes": routing_attribute_names()}
        return super().changeform_view(request, object_id, form_url, extra_context)


def routing_attribute_names() -> list[str]:
    return [*services.ATTRIBUTES, services.CUSTOM_PREFIX]


def condition_text(condition: dict) -> str:
    """A rule's condition in one line: (a or b) and c."""
    if not condition:
        return gettext("everything")
    if "all" in condition or "any" in condition:
        and_word, or_word = f" {gettext('and')} ", f" {gettext('or')} "
        word = and_word if "all" in condition else or_word
        parts = [condition_text(part) for part in condition.get("all", condition.get("any", []))]
        if not parts:
            return gettext("everything") if "all" in condition else gettext("nothing")
        return word.join(f"({part})" if len(parts) > 1 and (and_word in part or or_word in part) else part
                         for part in parts)
    value = condition.get("value", "")
    shown = ", ".join(map(_value_text, value)) if isinstance(value, list) else _value_text(value)
    return f"{condition.get('attribute')} {str(condition.get('op', '')).replace('_', ' ')} {shown}".strip()


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def dry_run(form: DryRunForm) -> dict[str, Any]:
    """Route the form's item and rank its agents, then undo anything that was written on the
    way: the default queue is created on first use."""
    with transaction.atomic():
        route, item, agents = services.route_explain(
            channel=form.cleaned_data["channel"], attributes=form.attributes(),
            priority=form.cleaned_data["priority"],
        )
        queue_key = route.queue.key
        profiles = AgentProfile.objects.select_related("user").in_bulk([agent.id for agent in agents])
        transaction.set_rollback(True)
    ranked = [
        {"rank": rank, "username": profiles[agent.id].user.get_username(),
         "languages": names(sorted(agent.languages)), "tier": agent.tier,
         "load": agent.load.get(item.channel, 0), "capacity": agent.capacity.get(item.channel, 0),
         "last_assigned_at": agent.last_assigned_at, "profile_id": agent.id}
        for rank, agent in enumerate(agents, start=1) if agent.id in profiles
    ]
    return {"rule": route.rule, "queue": queue_key, "priority": route.priority, "item": item,
            "required_skills": names(sorted(route.required_skills)),
            "optional_skills": names(sorted(route.optional_skills - route.required_skills)),
            "agents": ranked}
