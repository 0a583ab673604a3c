"""The audit of supervisors' workflow edits, read-only: before, after and what changed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from supportdesk.admin import BigTableAdmin, pretty_json
from workflows.admin.mixins import SupervisorReadOnlyAdminMixin
from workflows.models import WorkflowAudit

_ABSENT = object()


def _changed_keys(before: dict | None, after: dict | None) -> list[str]:
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [key for key in keys if before.get(key, _ABSENT) != after.get(key, _ABSENT)]


def _shown(value: Any) -> str:
    return "—" if value is _ABSENT else pretty_json(value)


@admin.register(WorkflowAudit)
class WorkflowAuditAdmin(SupervisorReadOnlyAdminMixin, BigTableAdmin):
    list_display = ("at", "actor_label", "action", "workflow_key", "changed_fields")
    list_filter = ("action",)
    search_fields = ("workflow_key", "actor_label")
    fields = ("at", "actor_label", "actor", "action", "workflow", "workflow_key", "difference", "before_json",
              "after_json")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("changed"))
    def changed_fields(self, obj: WorkflowAudit) -> str:
        return ", ".join(_changed_keys(obj.before, obj.after))

    @admin.display(description=gettext_lazy("difference"))
    def difference(self, obj: WorkflowAudit) -> str:
        before, after = obj.before or {}, obj.after or {}
        keys = _changed_keys(obj.before, obj.after)
        if not keys:
            return _("No difference.")
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", (
            (key, _shown(before.get(key, _ABSENT)), _shown(after.get(key, _ABSENT))) for key in keys))
        return format_html("<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody>"
                           "</table>", _("setting"), _("before"), _("after"), rows)

    @admin.display(description=gettext_lazy("before"))
    def before_json(self, obj: WorkflowAudit) -> str:
        return pretty_json(obj.before) if obj.before is not None else "—"

    @admin.display(description=gettext_lazy("after"))
    def after_json(self, obj: WorkflowAudit) -> str:
        return pretty_json(obj.after) if obj.after is not None else "—"
