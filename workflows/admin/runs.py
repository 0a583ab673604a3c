"""Workflow runs, read-only: per workflow, filtered by status, each step's outcome, timing and
error; failed runs are retried (the engine's run_retry) by an admin action, audited."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from supportdesk.admin import BigTableAdmin, pretty_json
from workflows import services
from workflows.admin.mixins import SupervisorReadOnlyAdminMixin, SupervisorReadOnlyInlineMixin
from workflows.audit import workflow_audit_record
from workflows.models import RunStatus, WorkflowRun, WorkflowRunStep


class WorkflowRunStepInline(SupervisorReadOnlyInlineMixin, admin.TabularInline):
    model = WorkflowRunStep
    extra = 0
    can_delete = False
    ordering = ("position",)
    fields = ("position", "action", "status", "started_at", "finished_at", "duration", "attempts", "error",
              "result_json", "idempotency_key")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("took"))
    def duration(self, obj: WorkflowRunStep) -> str:
        if obj.finished_at is None or obj.started_at is None:
            return "—"
        return _("%(seconds).3f s") % {"seconds": (obj.finished_at - obj.started_at).total_seconds()}

    @admin.display(description=gettext_lazy("result"))
    def result_json(self, obj: WorkflowRunStep) -> str:
        return pretty_json(obj.result)


@admin.register(WorkflowRun)
class WorkflowRunAdmin(SupervisorReadOnlyAdminMixin, BigTableAdmin):
    inlines = (WorkflowRunStepInline,)
    list_display = ("id", "workflow", "version_number", "contact", "subject", "status", "created_at",
                    "finished_at", "summary", "error")
    list_filter = ("status", "workflow")
    list_select_related = ("workflow", "version", "contact")
    search_fields = ("run_key", "contact__external_id__exact")
    search_help_text = gettext_lazy("The run key, or the contact's exact external id.")
    actions = ("retry",)
    fields = ("workflow", "version_number", "contact", "subject", "run_key", "status", "trigger_json",
              "chain", "position", "resume_at", "attempts", "error", "summary", "created_at", "updated_at",
              "finished_at")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("version"))
    def version_number(self, obj: WorkflowRun) -> str:
        return f"v{obj.version.number}"

    @admin.display(description=gettext_lazy("subject"))
    def subject(self, obj: WorkflowRun) -> str:
        return f"{obj.subject_type} {obj.subject_id}" if obj.subject_type else "—"

    @admin.display(description=gettext_lazy("trigger"))
    def trigger_json(self, obj: WorkflowRun) -> str:
        return pretty_json(obj.trigger)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    @admin.action(description=gettext_lazy("Retry the selected failed runs"), permissions=("retry",))
    def retry(self, request: HttpRequest, queryset: QuerySet[WorkflowRun]) -> None:
        failed = list(queryset.filter(status=RunStatus.FAILED).select_related("workflow"))
        for run in failed:
            with transaction.atomic():
                services.run_retry(run.pk)
                workflow_audit_record(actor=request.user, workflow=run.workflow, action="retried",
                                      before={"run": run.pk, "status": run.status, "error": run.error},
                                      after={"run": run.pk})
        skipped = queryset.count() - len(failed)
        self.message_user(request, ngettext("%(count)d failed run retried.", "%(count)d failed runs retried.",
                                            len(failed)) % {"count": len(failed)}, messages.SUCCESS)
        if skipped:
            self.message_user(request, ngettext("%(count)d run was not failed and was left alone.",
                                                "%(count)d runs were not failed and were left alone.",
                                                skipped) % {"count": skipped}, messages.WARNING)
