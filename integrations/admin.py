"""Admin for stored OMS webhook events: look, retry failed ones, discard what must never run.

Every stored event can be listed, opened, retried and discarded, even one whose values
Python cannot read back (a time PostgreSQL holds but Python cannot, from before intake
refused them; a payload nested deeper than Python's parser goes): the pages never load
those columns as such. The time comes through an expression that is empty outside what
Python holds (with its text from PostgreSQL beside it), and the payload as text, parsed
here only if it can be.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value
from django.db import models
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from integrations import services
from integrations.models import InboundEmail, OmsEvent, VoiceDelivery, WhatsAppDelivery
from integrations.oms.schema import EVENT_TYPES
from supportdesk.admin import BigTableAdmin, ReadOnlyAdminMixin

# A day inside Python's range at each end, so showing the time in any time zone fits too.
_READABLE_FROM = datetime(1, 1, 2, tzinfo=UTC)
_READABLE_UNTIL = datetime(9999, 12, 31, tzinfo=UTC)


class EventTypeFilter(admin.SimpleListFilter):
    """The types the OMS sends, without a SELECT DISTINCT over every event ever received."""

    title = _("event type")
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(event_type, event_type) for event_type in sorted(EVENT_TYPES)]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(OmsEvent)
class OmsEventAdmin(BigTableAdmin):
    """What the OMS sent is evidence: every field is read-only; the actions are the writes."""

    list_display = ("event_id", "event_type", "status", "attempts", "occurred",
                    "received_at", "processed_at", "error")
    list_filter = ("status", EventTypeFilter)
    search_fields = ("event_id__exact",)
    search_help_text = _("Exact OMS event id.")
    actions = ("retry_failed", "discard")
    fields = ("event_id", "event_type", "status", "attempts", "last_error", "occurred",
              "received_at", "processed_at", "payload_pretty")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        readable = models.Q(occurred_at__gte=_READABLE_FROM, occurred_at__lt=_READABLE_UNTIL)
        return super().get_queryset(request).defer("occurred_at", "payload").annotate(
            occurred_at_readable=models.Case(
                models.When(readable, then="occurred_at"), default=None,
                output_field=models.DateTimeField(),
            ),
            occurred_at_stored=Cast("occurred_at", models.TextField()),
        )

    @admin.display(description=_("occurred at"), ordering="occurred_at")
    def occurred(self, obj: OmsEvent) -> str:
        if obj.occurred_at_readable is None:
            # PostgreSQL's own text for a time Python cannot hold ("0001-12-31 10:00:00+00 BC").
            return obj.occurred_at_stored
        return display_for_value(obj.occurred_at_readable, "")  # as the admin shows any time

    @admin.display(description=_("last error"))
    def error(self, obj: OmsEvent) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj: OmsEvent) -> str:
        stored = (OmsEvent.objects.filter(pk=obj.pk)
                  .annotate(text=Cast("payload", models.TextField()))
                  .values_list("text", flat=True).first()) or ""
        try:
            stored = json.dumps(json.loads(stored), indent=2, ensure_ascii=False, sort_keys=True)
        except (ValueError, RecursionError):
            pass  # shown exactly as stored
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', stored)

    @admin.action(description=_("Retry selected failed or discarded events"), permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        event_ids = list(queryset.values_list("event_id", flat=True))
        self._report(request, done=services.oms_events_retry(event_ids=event_ids), asked=len(event_ids),
                     done_message=ngettext_lazy("%(count)d event queued for another try.",
                                                "%(count)d events queued for another try.", "count"),
                     skipped_message=ngettext_lazy(
                         "%(count)d skipped: only failed or discarded events are retried.",
                         "%(count)d skipped: only failed or discarded events are retried.", "count"))

    @admin.action(description=_("Discard selected events (never process them)"),
                  permissions=["change"])
    def discard(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        event_ids = list(queryset.values_list("event_id", flat=True))
        self._report(request, done=services.oms_events_discard(event_ids=event_ids), asked=len(event_ids),
                     done_message=ngettext_lazy("%(count)d event discarded.",
                                                "%(count)d events discarded.", "count"),
                     skipped_message=ngettext_lazy(
                         "%(count)d skipped: processed events stay as they are.",
                         "%(count)d skipped: processed events stay as they are.", "count"))

    def _report(self, request: HttpRequest, *, done: int, asked: int, done_message: Any,
                skipped_message: Any) -> None:
        message = done_message % {"count": done}
        if skipped := asked - done:
            message += " " + skipped_message % {"count": skipped}
        self.message_user(request, message, messages.SUCCESS if done else messages.WARNING)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events arrive through the signed webhook only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # evidence: discard sets an event aside, and keeps it

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> Any:
        # Change permission is there for the actions; the form itself has nothing to save.
        extra_context = {**(extra_context or {}), "show_save": False,
                         "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(InboundEmail)
class InboundEmailAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    """Every email received, kept raw: what processing made of it (a message of which
    conversation, or why it was left out: an auto-reply, a bounce). One whose processing keeps
    failing is parked in *Outbox entries* (consumer integrations.inbound_email), retried there."""

    list_display = ("received_at", "envelope_from", "subject", "source", "status", "conversation_link", "size")
    list_filter = ("status", "source")
    search_fields = ("message_id__exact",)
    search_help_text = _("Exact Message-ID, with its angle brackets.")
    fields = ("message_id", "source", "envelope_from", "envelope_to", "subject", "size", "received_at", "status",
              "outcome", "conversation_link", "processed_at", "raw_text")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).defer("raw", "html")

    @admin.display(description=_("conversation"))
    def conversation_link(self, obj: InboundEmail) -> str:
        if obj.conversation_id is None:
            return "-"
        return format_html('<a href="{}">#{}</a>', reverse("desk:conversation", args=[obj.conversation_id]),
                           obj.conversation_id)

    @admin.display(description=_("the email as received (first 100,000 characters)"))
    def raw_text(self, obj: InboundEmail) -> str:
        raw = InboundEmail.objects.filter(pk=obj.pk).values_list("raw", flat=True).first()
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>",
                           bytes(raw or b"")[:100_000].decode("utf-8", "replace"))


@admin.register(WhatsAppDelivery)
class WhatsAppDeliveryAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    """Every post of the WhatsApp webhook, kept as received, and what processing made of it. One
    whose processing keeps failing is parked in *Outbox entries* (consumer integrations.whatsapp)."""

    list_display = ("received_at", "processed_at", "outcome_short")
    fields = ("received_at", "processed_at", "outcome", "body")
    readonly_fields = fields

    @admin.display(description=_("outcome"))
    def outcome_short(self, obj: WhatsAppDelivery) -> str:
        return Truncator(obj.outcome).chars(120)


@admin.register(VoiceDelivery)
class VoiceDeliveryAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    """Every post of the voice webhooks, kept as received, and what processing made of it. One
    whose processing keeps failing is parked in *Outbox entries* (consumer integrations.voice)."""

    list_display = ("received_at", "kind", "call_sid", "processed_at", "outcome_short")
    search_fields = ("=call_sid",)
    fields = ("received_at", "kind", "call_sid", "processed_at", "outcome", "body")
    readonly_fields = fields

    @admin.display(description=_("outcome"))
    def outcome_short(self, obj: VoiceDelivery) -> str:
        return Truncator(obj.outcome).chars(120)
