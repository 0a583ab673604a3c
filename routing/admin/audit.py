"""The audit of supervisors' changes, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from routing.admin.mixins import names
from routing.models import (
    AgentProfile,
    BusinessHours,
    Queue,
    RoutingAudit,
    RoutingRule,
)
from supportdesk.admin import BigTableAdmin, ReadOnlyAdminMixin, pretty_json


class AuditModelFilter(admin.SimpleListFilter):
    """The audited models, without a SELECT DISTINCT over the table."""

    title = _("what")
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        audited = (Queue, BusinessHours, RoutingRule, AgentProfile)
        return [(model._meta.label_lower, model._meta.verbose_name) for model in audited]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(model=self.value()) if self.value() else queryset


class AuditActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("created", pgettext_lazy("audit action", "created")),
                ("changed", pgettext_lazy("audit action", "changed")),
                ("deleted", pgettext_lazy("audit action", "deleted"))]

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
    search_help_text = _("Part of the object's name or the actor's username, or the exact object id.")
    fields = ("at", "actor_label", "actor", "action", "model", "object_id", "object_repr", "difference",
              "before_json", "after_json")
    readonly_fields = fields

    @admin.display(description=_("changed"))
    def changed_fields(self, obj: RoutingAudit) -> str:
        return names(_changed_keys(obj.before, obj.after))

    @admin.display(description=_("difference"))
    def difference(self, obj: RoutingAudit) -> str:
        before, after = obj.before or {}, obj.after or {}
        keys = _changed_keys(obj.before, obj.after)
        if not keys:
            return gettext("No difference.")
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((key, _diff_value(before.get(key, _ABSENT)), _diff_value(after.get(key, _ABSENT))) for key in keys),
        )
        return format_html("<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody>"
                           "</table>", gettext("setting"), gettext("before"), gettext("after"), rows)

    @admin.display(description=_("before"))
    def before_json(self, obj: RoutingAudit) -> str:
        return pretty_json(obj.before) if obj.before is not None else "—"

    @admin.display(description=_("after"))
    def after_json(self, obj: RoutingAudit) -> str:
        return pretty_json(obj.after) if obj.after is not None else "—"


def _changed_keys(before: dict | None, after: dict | None) -> list[str]:
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [key for key in keys if before.get(key, _ABSENT) != after.get(key, _ABSENT)]
