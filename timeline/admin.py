"""Admin for contacts, orders and the (read-only) timeline.

Edits go through `timeline.services`, like an OMS update would, so an edit in the admin
keeps field versions, customer totals and order status history right and leaves a
timeline event naming the user who made it.

The tables here grow to millions of rows: see `supportdesk.admin` for how the lists stay fast.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from supportdesk.actors import user_actor
from supportdesk.admin import BigTableAdmin, ReadOnlyAdminMixin, pretty_json
from timeline import services
from timeline.events import EventKind
from timeline.models import Contact, ContactKind, Order, OrderStatusChange, TimelineEvent


@admin.register(Contact)
class ContactAdmin(BigTableAdmin):
    list_display = (
        "external_id", "name", "kind", "preferred_language", "country", "tier",
        "lifetime_order_value", "order_count", "courier_status", "store_name", "updated_at",
    )
    list_display_links = ("external_id", "name")
    # Fields with choices only: a filter on free text would SELECT DISTINCT the whole table.
    list_filter = ("kind", "tier", "courier_status", "vehicle")
    # The id must match exactly (the index serves it); names, emails and phones match a part.
    search_fields = ("external_id__exact", "name", "email", "phone", "store_name")
    search_help_text = _("Exact external id, or part of a name, email, phone or store name.")
    raw_id_fields = ("current_order",)
    readonly_fields = (
        "lifetime_order_value", "order_count", "field_versions", "created_at", "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("kind", "external_id", "name", "email", "phone",
                           "preferred_language", "country", "tags", "attributes")}),
        (_("Customer"), {"fields": ("tier", "credit_balance", "lifetime_order_value",
                                 "order_count")}),
        (_("Courier"), {"fields": ("vehicle", "courier_status", "current_order")}),
        (_("Partner"), {"fields": ("store_name", "store_category")}),
        (_("Record"), {"classes": ("collapse",),
                    "fields": ("field_versions", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Contact | None = None) -> tuple:
        # Kind and external id are how the OMS knows the contact: fixed once created.
        identity = ("kind", "external_id") if obj is not None else ()
        return (*identity, *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Contact, form, change: bool) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in form.changed_data if name in services.CONTACT_FIELDS
        }
        contact = services.contact_upsert(
            kind=obj.kind, external_id=obj.external_id, fields=fields,
            occurred_at=timezone.now(), actor=user_actor(request.user),
        )
        obj.pk = contact.pk


class OrderStatusChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderStatusChange
    fields = ("status", "occurred_at", "source_event_id", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Order)
class OrderAdmin(BigTableAdmin):
    list_display = (
        "external_id", "status", "customer", "partner", "total", "currency", "placed_at",
        "promised_at", "is_delayed",
    )
    list_select_related = ("customer", "partner")
    list_filter = ("status", "is_delayed")
    search_fields = ("external_id__exact", "customer__external_id__exact")
    search_help_text = _("Exact order id or customer external id.")
    autocomplete_fields = ("customer", "courier", "partner")
    readonly_fields = ("field_versions", "created_at", "updated_at")
    inlines = (OrderStatusChangeInline,)
    fieldsets = (
        (None, {"fields": ("external_id", "status", "customer", "courier", "partner")}),
        (_("Amount"), {"fields": ("total", "currency", "items")}),
        (_("Times"), {"fields": ("placed_at", "promised_at", "delivered_at", "cancelled_at")}),
        (_("Delay"), {"fields": ("is_delayed", "delay_minutes", "delay_reason")}),
        (_("Record"), {"classes": ("collapse",),
                    "fields": ("field_versions", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> tuple:
        identity = ("external_id",) if obj is not None else ()
        return (*identity, *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in form.changed_data if name in services.ORDER_FIELDS
        }
        # The service locks the parties, the previous customer and the order in the one
        # order the OMS drain uses too (timeline.locks), so the two never deadlock.
        result = services.order_upsert(
            external_id=obj.external_id, fields=fields, occurred_at=timezone.now(),
            actor=user_actor(request.user),
        )
        obj.pk = result.order.pk


class EventKindFilter(admin.SimpleListFilter):
    """The known kinds, without a SELECT DISTINCT over the whole table."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        kinds = sorted(value for name, value in vars(EventKind).items() if name.isupper())
        return [(kind, kind) for kind in kinds]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class SubjectTypeFilter(admin.SimpleListFilter):
    title = _("subject")
    parameter_name = "subject_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        # A context: Django's admin has "Order" too, as in sorting.
        return [("contact", pgettext_lazy("subject type", "Contact")),
                ("order", pgettext_lazy("subject type", "Order")),
                ("conversation", pgettext_lazy("subject type", "Conversation"))]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(subject_type=self.value()) if self.value() else queryset


class ContactKindFilter(admin.SimpleListFilter):
    title = _("contact kind")
    parameter_name = "contact_kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return ContactKind.choices

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(contact__kind=self.value()) if self.value() else queryset


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdminMixin, BigTableAdmin):
    """Append-only: the admin shows events and never adds, changes or deletes one."""

    list_display = ("occurred_at", "kind", "contact", "actor", "subject_type", "subject_id")
    list_select_related = ("contact",)
    list_filter = (EventKindFilter, SubjectTypeFilter, ContactKindFilter)
    search_fields = ("contact__external_id__exact",)
    search_help_text = _("Exact external id of the contact.")
    # Newest first by id: the primary key index serves it on any table size.
    fields = ("contact", "kind", "occurred_at", "actor", "subject_type", "subject_id",
              "payload_pretty", "created_at")
    readonly_fields = fields

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj: TimelineEvent) -> str:
        return pretty_json(obj.payload)
