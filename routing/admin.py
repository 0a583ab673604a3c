"""Supervisors' routing admin: queues, rules with their conditions, agents' routing settings,
the audit of every change to them, a dry run of the rules, and the work items (read-only).

Every save of a queue, a rule or an agent's settings leaves a `RoutingAudit` row
(`routing.audit`) and tells the services what changed: waiting items take a queue's new
priority and tier, an agent's slots are rebuilt. A rule's condition is edited as rows and
assembled into the one JSON condition the engine reads (`routing.rules`), after the forms
(`routing.forms`) made every mistake a form error.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from routing import services
from routing.audit import audit_record, routing_snapshot
from routing.forms import (
    AgentProfileForm,
    DryRunForm,
    QueueForm,
    RoutingRuleForm,
    RuleConditionForm,
    RuleConditionFormSet,
)
from routing.models import (
    CHANNELS,
    CONTACT_KINDS,
    HELD_STATES,
    AgentProfile,
    ItemState,
    Queue,
    RoutingAudit,
    RoutingRule,
    RuleCondition,
    WorkItem,
    WorkItemEvent,
)
from routing.rules import ConditionRow, condition_assemble, rule_condition_rebuild
from supportdesk.admin import BigTableAdmin, ReadOnlyAdminMixin, pretty_json
from supportdesk.errors import DomainError

# --- the audit of every supervisor's change -------------------------------------------------------


class RoutingAuditMixin:
    """Audits each save and delete of the model through the admin, including the list's
    inline edits and the delete action; `routing_saved` is the hook for what must follow."""

    def save_model(self, request: HttpRequest, obj: models.Model, form: ModelForm, change: bool) -> None:
        # The form has already written the new values onto `obj`: read the old ones back.
        obj._routing_before = routing_snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
        # The form rather than obj.save(): a form may write only the fields it edits
        # (AgentProfileForm does). `obj` is the form's instance.
        form.save()

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: list[BaseFormSet],
                     change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        self.routing_saved(obj, formsets=formsets, change=change)
        audit_record(actor=request.user, obj=obj, instance_before=obj._routing_before,
                     instance_after=routing_snapshot(obj))

    def routing_saved(self, obj: Any, *, formsets: list[BaseFormSet], change: bool) -> None:
        """After the object and its inlines are saved, before the audit reads them."""

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        audit_record(actor=request.user, obj=obj, instance_before=routing_snapshot(obj), instance_after=None)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        with transaction.atomic():
            for obj in queryset:
                audit_record(actor=request.user, obj=obj, instance_before=routing_snapshot(obj),
                             instance_after=None)
            super().delete_queryset(request, queryset)


def _names(values: list[str]) -> str:
    return ", ".join(values)


# --- queues ------------------------------------------------------------------------------------------


class GuardedDeleteMixin:
    """Deletes one object at a time, and not while `delete_blocked` says it is in use."""

    def delete_blocked(self, obj: Any) -> bool:
        raise NotImplementedError

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and self.delete_blocked(obj):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)  # type: ignore[misc]
        actions.pop("delete_selected", None)  # the bulk action would skip the check above
        return actions


@admin.register(Queue)
class QueueAdmin(GuardedDeleteMixin, RoutingAuditMixin, admin.ModelAdmin):
    form = QueueForm
    list_display = ("key", "name", "priority", "strategy", "target_wait_seconds", "assign_directly",
                    "offer_timeout_seconds", "overflow_queue", "is_active")
    list_select_related = ("overflow_queue",)
    list_filter = ("is_active", "strategy", "assign_directly", "min_agent_tier")
    search_fields = ("key", "name")
    ordering = ("-priority", "key")
    autocomplete_fields = ("overflow_queue",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("key", "name", "priority", "strategy", "is_active")}),
        ("Service level", {"fields": ("target_wait_seconds", "escalate_at_percent",
                                      "escalation_priority_boost", "overflow_queue",
                                      "overflow_after_seconds")}),
        ("Agents", {"fields": ("required_skills", "optional_skills", "relax_optional_after_seconds",
                               "min_agent_tier")}),
        ("Offers", {"fields": ("assign_directly", "offer_timeout_seconds")}),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    def routing_saved(self, obj: Queue, *, formsets: list[BaseFormSet], change: bool) -> None:
        services.queue_changed(queue_id=obj.pk)

    def delete_blocked(self, obj: Queue) -> bool:
        # Items hold their queue (PROTECT); the confirmation page would list every one of them.
        return obj.items.exists()


# --- rules ---------------------------------------------------------------------------------------------


class RuleConditionInline(admin.TabularInline):
    model = RuleCondition
    form = RuleConditionForm
    formset = RuleConditionFormSet
    fields = ("group", "attribute", "op", "value", "position")
    verbose_name = "condition"
    verbose_name_plural = ("conditions: rows with the same group number, any one holds; every group holds; "
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
        ("Route to", {"fields": ("queue_key", "priority", "required_skills", "optional_skills")}),
        ("Condition", {"fields": ("assembled_condition",)}),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="condition")
    def condition_summary(self, obj: RoutingRule) -> str:
        return condition_text(obj.condition)

    @admin.display(description="skills")
    def skills_summary(self, obj: RoutingRule) -> str:
        optional = [f"{skill}?" for skill in obj.optional_skills]
        return _names([*obj.required_skills, *optional])

    @admin.display(description="condition the router reads")
    def assembled_condition(self, obj: RoutingRule) -> str:
        if obj.pk is None:
            return "Assembled from the rows below when saved."
        rows = [ConditionRow(group=row.group, attribute=row.attribute, op=row.op, value=row.value)
                for row in obj.conditions.all()]
        shown = format_html("<p>{}</p>{}", condition_text(obj.condition), pretty_json(obj.condition))
        if condition_assemble(rows) != (obj.condition or {"all": []}):
            # Written elsewhere (the API, a script): saving keeps it unless the rows change.
            return format_html(
                "{}<p class=\"errornote\">This condition was not made from the rows below. Saving keeps it "
                "as long as the rows stay as they are; add, change or delete a row and the rows replace "
                "it.</p>", shown)
        return shown

    def routing_saved(self, obj: RoutingRule, *, formsets: list[BaseFormSet], change: bool) -> None:
        conditions = _conditions_formset(formsets)
        rows_changed = conditions is not None and bool(
            conditions.new_objects or conditions.changed_objects or conditions.deleted_objects)
        if not change or rows_changed:
            rule_condition_rebuild(obj)

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
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": "Routing dry run",
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
        return "everything"
    if "all" in condition or "any" in condition:
        word = " and " if "all" in condition else " or "
        parts = [condition_text(part) for part in condition.get("all", condition.get("any", []))]
        if not parts:
            return "everything" if "all" in condition else "nothing"
        return word.join(f"({part})" if len(parts) > 1 and (" and " in part or " or " in part) else part
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
         "languages": _names(sorted(agent.languages)), "tier": agent.tier,
         "load": agent.load.get(item.channel, 0), "capacity": agent.capacity.get(item.channel, 0),
         "last_assigned_at": agent.last_assigned_at, "profile_id": agent.id}
        for rank, agent in enumerate(agents, start=1) if agent.id in profiles
    ]
    return {"rule": route.rule, "queue": queue_key, "priority": route.priority, "item": item,
            "required_skills": _names(sorted(route.required_skills)),
            "optional_skills": _names(sorted(route.optional_skills - route.required_skills)),
            "agents": ranked}


# --- agents ----------------------------------------------------------------------------------------------


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

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(kind, kind.capitalize()) for kind in CONTACT_KINDS]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.value():
            return queryset.filter(contact_kinds__contains=[self.value()])
        return queryset


def agent_settings_changed_on_commit(profile_id: int) -> None:
    # After commit, in a transaction of its own: the service locks the agent's items before
    # the agent, the order every routing path takes, which this save's own row lock on the
    # agent would reverse.
    transaction.on_commit(lambda: services.agent_settings_changed(profile_id=profile_id))


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
        (None, {"fields": ("user", "languages", "contact_kinds", "skills", "tier", "capacity")}),
        ("Now (set by the agent's desk and the router)", {
            "fields": ("presence", "presence_since", "last_heartbeat_at", "last_assigned_at", "missed_offers"),
        }),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="name", ordering="user__first_name")
    def full_name(self, obj: AgentProfile) -> str:
        return obj.user.get_full_name()

    @admin.display(description="languages")
    def languages_list(self, obj: AgentProfile) -> str:
        return _names(obj.languages)

    @admin.display(description="contact kinds")
    def contact_kinds_list(self, obj: AgentProfile) -> str:
        return _names(obj.contact_kinds)

    @admin.display(description="skills")
    def skills_list(self, obj: AgentProfile) -> str:
        return _names(obj.skills)

    @admin.display(description="capacity")
    def capacity_summary(self, obj: AgentProfile) -> str:
        return ", ".join(f"{channel} {obj.capacity_for(channel)}" for channel in CHANNELS)

    @admin.display(description="active", boolean=True, ordering="user__is_active")
    def is_active(self, obj: AgentProfile) -> bool:
        return obj.user.is_active

    def routing_saved(self, obj: AgentProfile, *, formsets: list[BaseFormSet], change: bool) -> None:
        agent_settings_changed_on_commit(obj.pk)

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
    verbose_name_plural = "agent profile"


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
            agent_settings_changed_on_commit(profile.pk)

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


# --- the audit, read-only ----------------------------------------------------------------------------------


class AuditModelFilter(admin.SimpleListFilter):
    """The three audited models, without a SELECT DISTINCT over the table."""

    title = "what"
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        audited = (Queue, RoutingRule, AgentProfile)
        return [(model._meta.label_lower, model._meta.verbose_name) for model in audited]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(model=self.value()) if self.value() else queryset


class AuditActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(action, action) for action in ("created", "changed", "deleted")]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(action=self.value()) if self.value() else queryset


def _diff_value(value: Any) -> str:
    return "—" if value is _ABSENT else pretty_json(value)


_ABSENT = object()


@admin.register(RoutingAudit)
class RoutingAuditAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("at", "actor_label", "action", "model", "object_repr", "changed_fields")
    list_filter = (AuditModelFilter, AuditActionFilter)
    search_fields = ("object_repr", "actor_label", "object_id__exact")
    search_help_text = "Part of the object's name or the actor's username, or the exact object id."
    fields = ("at", "actor_label", "actor", "action", "model", "object_id", "object_repr", "difference",
              "before_json", "after_json")
    readonly_fields = fields

    @admin.display(description="changed")
    def changed_fields(self, obj: RoutingAudit) -> str:
        return _names(_changed_keys(obj.before, obj.after))

    @admin.display(description="difference")
    def difference(self, obj: RoutingAudit) -> str:
        before, after = obj.before or {}, obj.after or {}
        keys = _changed_keys(obj.before, obj.after)
        if not keys:
            return "No difference."
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((key, _diff_value(before.get(key, _ABSENT)), _diff_value(after.get(key, _ABSENT))) for key in keys),
        )
        return format_html("<table><thead><tr><th>setting</th><th>before</th><th>after</th></tr></thead>"
                           "<tbody>{}</tbody></table>", rows)

    @admin.display(description="before")
    def before_json(self, obj: RoutingAudit) -> str:
        return pretty_json(obj.before) if obj.before is not None else "—"

    @admin.display(description="after")
    def after_json(self, obj: RoutingAudit) -> str:
        return pretty_json(obj.after) if obj.after is not None else "—"


def _changed_keys(before: dict | None, after: dict | None) -> list[str]:
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [key for key in keys if before.get(key, _ABSENT) != after.get(key, _ABSENT)]


# --- work items, read-only -------------------------------------------------------------------------------


class ChannelFilter(admin.SimpleListFilter):
    title = "channel"
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

    @admin.display(description="detail")
    def detail_json(self, obj: WorkItemEvent) -> str:
        return pretty_json(obj.detail) if obj.detail else ""


@admin.register(WorkItem)
class WorkItemAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("id", "conversation_id", "channel", "language", "contact_kind", "queue", "state", "agent_name",
                    "priority", "enqueued_at", "waited", "breached")
    list_select_related = ("queue", "agent__user")
    list_filter = ("state", ChannelFilter, "queue")
    search_fields = ("conversation_id__exact",)
    search_help_text = "Exact conversation id."
    inlines = (WorkItemEventInline,)
    fieldsets = (
        (None, {"fields": ("conversation_id", "channel", "language", "contact_kind", "queue", "state", "agent",
                           "rule", "priority", "queue_priority", "attributes_json")}),
        ("Skills", {"fields": ("required_skills", "optional_skills", "optional_relaxed", "min_agent_tier",
                               "declined_by")}),
        ("Times", {"fields": ("enqueued_at", "queued_at", "offered_at", "offer_expires_at", "assigned_at",
                              "completed_at", "escalated_at", "sla_breached_at", "waited")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: WorkItem | None = None) -> tuple:
        return tuple(name for fieldset in self.fieldsets for name in fieldset[1]["fields"])

    def get_search_results(self, request: HttpRequest, queryset: models.QuerySet,
                           search_term: str) -> tuple[models.QuerySet, bool]:
        # A conversation id is a number: anything else finds nothing, not an error.
        if search_term.strip() and not search_term.strip().isdigit():
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="agent", ordering="agent__user__username")
    def agent_name(self, obj: WorkItem) -> str:
        return obj.agent.user.get_username() if obj.agent_id else ""

    @admin.display(description="waited")
    def waited(self, obj: WorkItem) -> str:
        return _duration(item_waited(obj, now=timezone.now()))

    @admin.display(description="breached", boolean=True, ordering="sla_breached_at")
    def breached(self, obj: WorkItem) -> bool:
        return obj.sla_breached_at is not None

    @admin.display(description="attributes")
    def attributes_json(self, obj: WorkItem) -> str:
        return pretty_json(obj.attributes)


@admin.register(WorkItemEvent)
class WorkItemEventAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("id", "at", "kind", "item_link", "agent_name", "queue")
    list_select_related = ("queue", "agent__user")
    search_fields = ("item__id__exact",)
    search_help_text = "Exact work item id."
    fields = ("item", "kind", "at", "agent", "queue", "detail_json")
    readonly_fields = fields

    def get_search_results(self, request: HttpRequest, queryset: models.QuerySet,
                           search_term: str) -> tuple[models.QuerySet, bool]:
        if search_term.strip() and not search_term.strip().isdigit():
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="item", ordering="item_id")
    def item_link(self, obj: WorkItemEvent) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:routing_workitem_change", args=[obj.item_id]),
                           obj.item_id)

    @admin.display(description="agent")
    def agent_name(self, obj: WorkItemEvent) -> str:
        return obj.agent.user.get_username() if obj.agent_id else ""

    @admin.display(description="detail")
    def detail_json(self, obj: WorkItemEvent) -> str:
        return pretty_json(obj.detail) if obj.detail else ""

