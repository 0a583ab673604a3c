"""Supervisors' admin for segments: conditions with clear errors, the size and a sample of
the conditions as they are being edited (a preview that saves nothing), the members now."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin

from supportdesk.access import is_supervisor
from supportdesk.json_input import SafeJSONField
from workflows.segments import services
from workflows.segments.models import Segment


class SupervisorOnlyAdmin(admin.ModelAdmin):
    """Only supervisors (the core's one supervisor permission) see or touch these pages."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_supervisor(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_supervisor(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_supervisor(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_supervisor(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_supervisor(request.user)


def actor_of(request: HttpRequest) -> str:
    return f"user:{request.user.pk}"


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("name", "key", "description", "conditions", "is_active", "feed_queue")
        widgets = {"conditions": forms.Textarea(attrs={"rows": 10, "cols": 80, "class": "vLargeTextField"})}

    def clean_conditions(self) -> Any:
        conditions = self.cleaned_data.get("conditions")
        if conditions is None:
            return {}
        errors = services.segment_conditions_errors(conditions)
        if errors:
            raise forms.ValidationError(errors)
        return conditions


class ConditionsPreviewForm(forms.Form):
    conditions = SafeJSONField(label=gettext_lazy("conditions"), required=False,
                                 widget=forms.Textarea(attrs={"rows": 8, "cols": 80}))

    def clean_conditions(self) -> Any:
        conditions = self.cleaned_data.get("conditions") or {}
        errors = services.segment_conditions_errors(conditions)
        if errors:
            raise forms.ValidationError(errors)
        return conditions


def preview_result(form: ConditionsPreviewForm) -> dict[str, Any] | None:
    if not form.is_valid():
        return None
    try:
        preview = services.segment_preview(form.cleaned_data["conditions"])
    except Exception as exc:  # a statement timeout on a very broad condition, most likely
        form.add_error(None, _("The preview could not be computed: %(error)s") % {"error": exc})
        return None
    return {"count": preview.count, "sample": preview.sample}


@admin.register(Segment)
class SegmentAdmin(SupervisorOnlyAdmin):
    form = SegmentForm
    formfield_overrides = {models.JSONField: {"form_class": SafeJSONField}}
    list_display = ("name", "key", "is_active", "member_count", "feed_queue", "refreshed_at")
    list_filter = ("is_active",)
    search_fields = ("name", "key")
    autocomplete_fields = ()
    readonly_fields = ("members_now", "attribute_help", "refreshed_at", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "key", "description", "is_active")}),
        (gettext_lazy("Who is in it"), {"fields": ("conditions", "attribute_help", "members_now")}),
        (gettext_lazy("Audit queue"), {"fields": ("feed_queue",)}),
        (gettext_lazy("Record"), {"classes": ("collapse",),
                                  "fields": ("refreshed_at", "created_at", "updated_at")}),
    )
    change_form_template = "admin/workflows/segment/change_form.html"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("feed_queue").annotate(_members=Count("members"))

    @admin.display(description=gettext_lazy("members"), ordering="_members")
    def member_count(self, obj: Segment) -> int:
        return obj._members

    @admin.display(description=gettext_lazy("attributes"))
    def attribute_help(self, obj: Segment | None) -> str:
        return format_html("<code>{}</code>", ", ".join(services.segment_attribute_names()))

    @admin.display(description=gettext_lazy("members now"))
    def members_now(self, obj: Segment | None) -> str:
        if obj is None or obj.pk is None:
            return _("Filled when saved.")
        count = services.segment_member_count(obj.pk)
        sample = list(obj.members.select_related("contact").order_by("-entered_at")[:10])
        rows = format_html_join("", "<li>{} ({}){}</li>", (
            (member.contact, member.contact.preferred_language or "-",
             _(" added by hand") if member.manual else "") for member in sample))
        return format_html("<p>{}</p><ul>{}</ul>", _("%(count)s members; the latest to enter:") % {
            "count": f"{count:,}"}, rows)

    def save_model(self, request: HttpRequest, obj: Segment, form: forms.ModelForm, change: bool) -> None:
        services.segment_save(segment=obj, actor=actor_of(request), refresh_now=False)
        self.message_user(request, _("The members are being brought up to date; the count below follows "
                                     "within seconds (a minute for millions of contacts)."), messages.INFO)

    def get_urls(self) -> list[URLPattern]:
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="workflows_segment_preview")
        return [preview, *super().get_urls()]

    @xframe_options_sameorigin  # shown in the change form's frame
    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The size and a sample of conditions not saved yet: the change form's Preview
        button posts its own fields here (into a frame under it). Reads only."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else (request.GET if "conditions" in request.GET else None)
        form = ConditionsPreviewForm(data)
        result = preview_result(form) if data is not None else None
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "result": result, "title": _("Segment preview"),
                   "fragment": request.method == "POST" and "_fragment" in request.POST}
        return TemplateResponse(request, "admin/workflows/segment/preview.html", context)
