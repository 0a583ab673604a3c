"""Supervisors' admin for campaigns: segment, channel and texts checked as they are saved,
a preview (how many, rendered samples, languages without a text), start, cancel, progress."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin

from supportdesk.errors import DomainError
from supportdesk.json_input import SafeJSONField
from workflows import registry
from workflows.outreach import services
from workflows.outreach.models import Campaign, CampaignStatus
from workflows.segments.admin import SupervisorOnlyAdmin, actor_of
from workflows.segments.models import Segment

EXAMPLE_TEXTS = {"en": {"subject": "News for you, {{ contact.first_name }}",
                        "body": "Hello {{ contact.name }}, ..."}}


def channel_choices() -> list[tuple[str, Any]]:
    return [(name, channel.label) for name, channel in sorted(registry.channels().items())]


class CampaignForm(forms.ModelForm):
    channel = forms.ChoiceField(label=gettext_lazy("channel"), choices=channel_choices)

    class Meta:
        model = Campaign
        fields = ("name", "segment", "channel", "texts", "rate_per_minute")
        widgets = {"texts": forms.Textarea(attrs={"rows": 14, "cols": 90, "class": "vLargeTextField"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk and not self.initial.get("texts"):
            self.initial["texts"] = EXAMPLE_TEXTS
        if self.instance.pk and self.instance.status != CampaignStatus.DRAFT:
            self.fields.pop("channel", None)  # read-only once started, like the rest
        if "channel" in self.fields and not channel_choices():
            self.fields["channel"].help_text = _("No channel is registered: start the integrations.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "texts" in cleaned:
            errors = services.campaign_errors(channel=cleaned.get("channel", ""), texts=cleaned["texts"])
            for message in errors.get("texts", []):
                self.add_error("texts", message)
        return cleaned


class CampaignPreviewForm(forms.Form):
    segment = forms.ModelChoiceField(queryset=Segment.objects.all())
    texts = SafeJSONField()

    def clean_texts(self) -> Any:
        texts = self.cleaned_data["texts"]
        errors = services.campaign_errors(channel=next(iter(registry.channels()), ""), texts=texts).get("texts")
        if errors:
            raise forms.ValidationError(errors)
        return texts


@admin.register(Campaign)
class CampaignAdmin(SupervisorOnlyAdmin):
    form = CampaignForm
    formfield_overrides = {models.JSONField: {"form_class": SafeJSONField}}
    list_display = ("name", "segment", "channel", "status", "progress_short", "rate_per_minute", "started_at")
    list_filter = ("status", "channel")
    list_select_related = ("segment",)
    search_fields = ("name",)
    readonly_fields = ("status", "progress", "language_warning", "created_by", "started_at", "finished_at")
    change_form_template = "admin/workflows/campaign/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> list:
        return [
            (None, {"fields": ("name", "segment", "channel", "rate_per_minute")}),
            (_("Message"), {"fields": ("texts", "language_warning")}),
            (_("Sending"), {"fields": ("status", "progress", "created_by", "started_at", "finished_at")}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> tuple:
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            # Once started, what was sent is what the record says: nothing to edit.
            return (*self.readonly_fields, "name", "segment", "channel", "texts", "rate_per_minute")
        return self.readonly_fields

    @admin.display(description=gettext_lazy("progress"))
    def progress_short(self, obj: Campaign) -> str:
        return f"{obj.sent + obj.skipped + obj.failed:,} / {obj.total:,}"

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, obj: Campaign | None) -> str:
        if obj is None or obj.pk is None or obj.status == CampaignStatus.DRAFT:
            return _("Not started.")
        done = obj.sent + obj.skipped + obj.failed
        percent = 100 * done // obj.total if obj.total else 100
        return format_html(
            '<progress max="100" value="{}"></progress> {}', percent,
            _("%(percent)s%%: %(sent)s sent, %(skipped)s skipped, %(failed)s failed, of %(total)s") % {
                "percent": percent, "sent": f"{obj.sent:,}", "skipped": f"{obj.skipped:,}",
                "failed": f"{obj.failed:,}", "total": f"{obj.total:,}"})

    @admin.display(description=gettext_lazy("languages"))
    def language_warning(self, obj: Campaign | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        missing = services.campaign_missing_languages(obj.texts)
        if not missing:
            return _("A text for every language the desk serves.")
        return format_html('<span class="warning">{}</span>', _(
            "No text for %(languages)s: those contacts get their country's language or English.") % {
                "languages": ", ".join(missing)})

    def save_model(self, request: HttpRequest, obj: Campaign, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = actor_of(request)
        super().save_model(request, obj, form, change)
        missing = services.campaign_missing_languages(obj.texts)
        if missing:
            self.message_user(request, _("No text for %(languages)s: those contacts get their country's "
                                         "language or English.") % {"languages": ", ".join(missing)},
                              messages.WARNING)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="workflows_campaign_preview"),
            path("<int:campaign_id>/start/", view(self.start_view), name="workflows_campaign_start"),
            path("<int:campaign_id>/cancel/", view(self.cancel_view), name="workflows_campaign_cancel"),
            *super().get_urls(),
        ]

    @xframe_options_sameorigin  # shown in the change form's frame
    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """Count and rendered samples for the segment and texts being edited. Reads only."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CampaignPreviewForm(request.POST if request.method == "POST" else None)
        result = None
        if form.is_valid():
            result = services.campaign_preview(segment_id=form.cleaned_data["segment"].pk,
                                               texts=form.cleaned_data["texts"])
        missing = services.campaign_missing_languages(form.cleaned_data.get("texts")) if form.is_bound and \
            form.is_valid() else []
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "result": result, "missing": missing, "title": _("Campaign preview"), "fragment": True}
        return TemplateResponse(request, "admin/workflows/campaign/preview.html", context)

    def _act(self, request: HttpRequest, campaign_id: int, action: Any, done: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        try:
            action(campaign_id=campaign.pk, actor=actor_of(request))
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:workflows_campaign_change", args=[campaign.pk]))

    def start_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        return self._act(request, campaign_id, services.campaign_start, _("Sending started."))

    def cancel_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        return self._act(request, campaign_id, services.campaign_cancel, _("Campaign cancelled."))
