"""Business hours: a weekly schedule in a time zone, its intervals and holidays edited as rows.

Saves go through `services.business_hours_save` (audited with the rows before and after;
open items of the queues keeping them take deadlines in the new hours after commit). Hours a
queue keeps cannot be deleted: point the queue elsewhere first."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from routing import business_hours, services
from routing.admin.mixins import GuardedDeleteMixin, RoutingAuditMixin, names
from routing.forms import BusinessHoursForm, OpeningIntervalForm, OpeningIntervalFormSet
from routing.hours_models import interval_text
from routing.models import BusinessHours, Holiday, OpeningInterval, Weekday
from routing.schedules import schedule_of


class OpeningIntervalInline(admin.TabularInline):
    model = OpeningInterval
    form = OpeningIntervalForm
    formset = OpeningIntervalFormSet
    fields = ("weekday", "opens_at", "closes_at")
    verbose_name_plural = _("open intervals: one or more per weekday, not overlapping; "
                            "overnight is 22:00-24:00 and 00:00-06:00 the next day")

    def get_extra(self, request: HttpRequest, obj: BusinessHours | None = None, **kwargs: Any) -> int:
        return 1 if obj is not None else 5


class HolidayInline(admin.TabularInline):
    model = Holiday
    fields = ("date", "name")
    verbose_name_plural = _("holidays: closed all day")
    extra = 1


@admin.register(BusinessHours)
class BusinessHoursAdmin(GuardedDeleteMixin, RoutingAuditMixin, admin.ModelAdmin):
    form = BusinessHoursForm
    inlines = (OpeningIntervalInline, HolidayInline)
    list_display = ("name", "time_zone", "week", "open_now", "queue_keys")
    search_fields = ("name", "time_zone")
    ordering = ("name",)
    readonly_fields = ("open_now", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "time_zone", "open_now")}),
        (_("Record"), {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessHours]:
        return super().get_queryset(request).prefetch_related("intervals", "holidays", "queues")

    @admin.display(description=_("week"))
    def week(self, obj: BusinessHours) -> str:
        days: dict[int, list[str]] = {}
        for row in obj.intervals.all():
            days.setdefault(row.weekday, []).append(interval_text(row.opens_at, row.closes_at))
        return "; ".join(f"{Weekday(day).label} {', '.join(spans)}" for day, spans in sorted(days.items()))

    @admin.display(description=_("now"))
    def open_now(self, obj: BusinessHours) -> str:
        if obj.pk is None:
            return "—"
        schedule = schedule_of(obj, intervals=obj.intervals.all(),
                               holidays=[holiday.date for holiday in obj.holidays.all()])
        now = timezone.now()
        if business_hours.is_open(schedule, now):
            return gettext("Open")
        back = business_hours.next_open(schedule, now)
        if back is None:
            return gettext("Closed, not opening within a year")
        return gettext("Closed until %(when)s") % {
            "when": f"{back.astimezone(schedule.zone):%Y-%m-%d %H:%M} ({obj.time_zone})"}

    @admin.display(description=_("queues"))
    def queue_keys(self, obj: BusinessHours) -> str:
        return names(sorted(queue.key for queue in obj.queues.all()))

    def routing_save(self, request: HttpRequest, obj: BusinessHours, *, form: ModelForm,
                     formsets: list[BaseFormSet] | None, change: bool) -> None:
        if formsets is None:
            form.save()  # the hours first, for their rows to point at
            return
        # Then the service, once the inlines wrote the rows: audited as it was before either write.
        services.business_hours_save(hours=obj, actor=request.user, before=obj._routing_before)

    def delete_blocked(self, obj: BusinessHours) -> bool:
        return obj.queues.exists()
