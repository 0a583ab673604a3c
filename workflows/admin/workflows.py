"""Supervisors' workflows: create, edit (every save publishes a new version through the
engine's service; the previous ones stay, read-only), enable and disable, statistics per
workflow, and a dry run of the saved workflow or of the draft in the form, writing nothing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin

from supportdesk.admin import pretty_json
from supportdesk.errors import DomainError
from workflows import services
from workflows.admin.forms import DryRunForm, WorkflowForm
from workflows.admin.mixins import SupervisorOnlyAdminMixin, SupervisorReadOnlyInlineMixin
from workflows.audit import workflow_audit_record, workflow_snapshot
from workflows.models import Workflow, WorkflowVersion
from workflows.selectors import workflow_stats


class WorkflowVersionInline(SupervisorReadOnlyInlineMixin, admin.TabularInline):
    """Every published version, newest first, read-only: runs finish on the one they started on."""

    model = WorkflowVersion
    fk_name = "workflow"
    extra = 0
    can_delete = False
    ordering = ("-number",)
    fields = ("number", "created_at", "created_by", "trigger_json", "conditions_json", "steps_json",
              "limits")
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("versions (the previous ones are kept, read-only)")

    @admin.display(description=gettext_lazy("trigger"))
    def trigger_json(self, obj: WorkflowVersion) -> str:
        return pretty_json(obj.trigger)

    @admin.display(description=gettext_lazy("conditions"))
    def conditions_json(self, obj: WorkflowVersion) -> str:
        return pretty_json(obj.conditions)

    @admin.display(description=gettext_lazy("steps"))
    def steps_json(self, obj: WorkflowVersion) -> str:
        return pretty_json(obj.steps)

    @admin.display(description=gettext_lazy("run key, limit"))
    def limits(self, obj: WorkflowVersion) -> str:
        limit = (_("%(count)s per %(days)s days") % {"count": obj.limit_count, "days": obj.limit_days}
                 if obj.limit_count else _("no limit"))
        return f"{obj.run_key or _('workflow + subject')}; {limit}"


@admin.register(Workflow)
class WorkflowAdmin(SupervisorOnlyAdminMixin, admin.ModelAdmin):
    form = WorkflowForm
    inlines = (WorkflowVersionInline,)
    list_display = ("name", "key", "is_enabled", "version", "triggered", "acted", "skipped_by_limit",
                    "failed", "runs_link")
    list_filter = ("is_enabled",)
    search_fields = ("name", "key")
    actions = ("enable", "disable")
    change_form_template = "admin/workflows/workflow/change_form.html"
    fieldsets = (
        (None, {"fields": ("key", "name", "description", "is_enabled")}),
        (gettext_lazy("When"), {"fields": ("trigger", "conditions")}),
        (gettext_lazy("What"), {"fields": ("steps",)}),
        (gettext_lazy("How often"), {"fields": ("run_key", "limit_count", "limit_days", "max_depth")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workflow]:
        return super().get_queryset(request).select_related("current_version")

    def get_readonly_fields(self, request: HttpRequest, obj: Workflow | None = None) -> tuple[str, ...]:
        return ("key",) if obj is not None else ()

    # --- the list ---

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        self._stats: dict[int, dict[str, int]] = {}
        return super().changelist_view(request, extra_context)

    def _stat(self, obj: Workflow, name: str) -> int:
        stats = getattr(self, "_stats", None)
        if stats is None:
            stats = self._stats = {}
        if obj.pk not in stats:
            stats[obj.pk] = workflow_stats(obj.pk)
        return stats[obj.pk].get(name, 0)

    @admin.display(description=gettext_lazy("version"))
    def version(self, obj: Workflow) -> str:
        return f"v{obj.current_version.number}" if obj.current_version is not None else "—"

    @admin.display(description=gettext_lazy("triggered"))
    def triggered(self, obj: Workflow) -> int:
        return self._stat(obj, "triggered")

    @admin.display(description=gettext_lazy("acted"))
    def acted(self, obj: Workflow) -> int:
        return self._stat(obj, "acted")

    @admin.display(description=gettext_lazy("skipped by limit"))
    def skipped_by_limit(self, obj: Workflow) -> int:
        return self._stat(obj, "skipped_by_limit")

    @admin.display(description=gettext_lazy("failed"))
    def failed(self, obj: Workflow) -> int:
        return self._stat(obj, "failed")

    @admin.display(description=gettext_lazy("runs"))
    def runs_link(self, obj: Workflow) -> str:
        url = reverse("admin:workflows_workflowrun_changelist") + "?" + urlencode({"workflow__id__exact": obj.pk})
        return format_html('<a href="{}">{}</a>', url, _("runs"))

    # --- saving: a new version through the engine, audited ---

    def save_model(self, request: HttpRequest, obj: Workflow, form: ModelForm, change: bool) -> None:
        """Publish the form's definition as a new version (nothing new when it did not change),
        switch the workflow on or off as the form says, and audit it all in one row."""
        before = workflow_snapshot(Workflow.objects.select_related("current_version").get(pk=obj.pk)) \
            if change else None
        with transaction.atomic():
            workflow, _version = services.workflow_save(
                key=obj.key, name=form.cleaned_data["name"], description=form.cleaned_data.get("description", ""),
                definition=form.definition(), user=request.user)
            if form.cleaned_data.get("is_enabled"):
                services.workflow_enable(workflow_id=workflow.pk)
            else:
                services.workflow_disable(workflow_id=workflow.pk)
            obj.pk = workflow.pk
            obj.refresh_from_db()
            workflow_audit_record(actor=request.user, workflow=obj, action="changed" if change else "created",
                                  before=before, after=workflow_snapshot(obj))
        for warning in form.warnings:
            messages.warning(request, warning)

    def has_delete_permission(self, request: HttpRequest, obj: Workflow | None = None) -> bool:
        # A workflow's versions and runs are its history (and its runs' steps are on contacts'
        # timelines): it is disabled, never deleted.
        return False

    # --- enable, disable ---

    def _switch(self, request: HttpRequest, queryset: QuerySet[Workflow], *, enabled: bool) -> None:
        switched = 0
        for workflow in queryset.select_related("current_version"):
            if workflow.is_enabled == enabled:
                continue
            before = workflow_snapshot(workflow)
            with transaction.atomic():
                if enabled:
                    services.workflow_enable(workflow_id=workflow.pk)
                else:
                    services.workflow_disable(workflow_id=workflow.pk)
                workflow.refresh_from_db()
                workflow_audit_record(actor=request.user, workflow=workflow,
                                      action="enabled" if enabled else "disabled",
                                      before=before, after=workflow_snapshot(workflow))
            switched += 1
        text = (ngettext("%(count)d workflow enabled.", "%(count)d workflows enabled.", switched) if enabled
                else ngettext("%(count)d workflow disabled.", "%(count)d workflows disabled.", switched))
        self.message_user(request, text % {"count": switched}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Enable the selected workflows"))
    def enable(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        self._switch(request, queryset, enabled=True)

    @admin.action(description=gettext_lazy("Disable the selected workflows"))
    def disable(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        self._switch(request, queryset, enabled=False)

    # --- the dry run ---

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(xframe_options_sameorigin(self.dry_run_view))
        return [
            path("dry-run/", view, name="workflows_workflow_dry_run"),
            path("<int:object_id>/dry-run/", view, name="workflows_workflow_dry_run_saved"),
            *super().get_urls(),
        ]

    def dry_run_view(self, request: HttpRequest, object_id: int | None = None) -> HttpResponse:
        """What the draft posted from the form (or the saved version, on GET) would have done over
        the last N days of events: the contacts and the steps, written nowhere."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        workflow = self.get_object(request, str(object_id)) if object_id is not None else None
        if object_id is not None and workflow is None:
            return self._dry_run_page(request, error=_("This workflow does not exist."), status=404)
        days_form = DryRunForm(request.POST if "days" in request.POST else request.GET if "days" in request.GET
                               else {"days": DryRunForm.base_fields["days"].initial})
        if request.method == "POST":
            form = self.get_form(request, workflow, change=workflow is not None)(
                request.POST, instance=workflow or Workflow())
            # A draft needs no name or key yet: only the definition's own fields must be right.
            if not form.is_valid() and form.definition_has_errors():
                return self._dry_run_page(request, form=form, days_form=days_form,
                                          error=_("Correct the errors in the form first."))
            definition, warnings = form.definition(), form.warnings
        elif workflow is not None and workflow.current_version is not None:
            definition, warnings = workflow.current_version, []
        else:
            return self._dry_run_page(request, days_form=days_form,
                                      error=_("Nothing to dry-run yet: fill in the form first."))
        if not days_form.is_valid():
            return self._dry_run_page(request, days_form=days_form, error=_("Choose how many days to replay."))
        days = days_form.cleaned_data["days"]
        try:
            results = services.dry_run(definition, days=days)
        except DomainError as error:
            return self._dry_run_page(request, days_form=days_form, error=error.message)
        return self._dry_run_page(request, days_form=days_form, results=results, days=days, warnings=warnings)

    def _dry_run_page(self, request: HttpRequest, *, status: int = 200, **context: Any) -> TemplateResponse:
        form = context.get("form")
        if form is not None:
            context["form_errors"] = [(form.fields[name].label if name in form.fields else "", errors)
                                      for name, errors in form.errors.items()]
        return TemplateResponse(request, "admin/workflows/workflow/dry_run.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "title": _("Dry run"), "is_popup": True, **context}, status=status)

