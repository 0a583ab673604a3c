"""Pieces the apps' admin modules share: read-only pages and lists that stay fast on big tables;
and the core's own page, the outbox's entries (parked ones are retried or discarded there).

The tables the desk keeps grow to millions of rows, so changelists avoid the two things
that make Django's admin slow on them: one query per row (list_select_related) and counting
the whole table (show_full_result_count = False, and the estimated count below).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connections, models
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from supportdesk import outbox
from supportdesk.models import OutboxEntry

# Below this many rows an exact COUNT(*) is cheap enough.
ESTIMATE_COUNT_FROM_ROWS = 1_000_000


class EstimatedCountPaginator(Paginator):
    """Exact counts for filtered or searched lists; the planner's estimate for a whole table.

    COUNT(*) reads every row: nothing on a filtered page, seconds on a table of millions.
    When nothing narrows the list, PostgreSQL's own row estimate (kept by autovacuum and
    ANALYZE) numbers the pages instead; it can be off by a few percent, which a list that
    long does not notice.
    """

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if query is not None and not query.where:
            estimate = table_row_estimate(self.object_list.model, using=self.object_list.db)
            if estimate >= ESTIMATE_COUNT_FROM_ROWS:
                return estimate
        return super().count


def table_row_estimate(model: type[models.Model], *, using: str = "default") -> int:
    """PostgreSQL's estimate of the table's rows; -1 before the table was first analysed."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connections[using].ops.quote_name(model._meta.db_table)],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] is not None else -1


def pretty_json(value: Any) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap; margin: 0">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True),
    )


class BigTableAdmin(admin.ModelAdmin):
    """A changelist for a table of millions of rows: newest first by the primary key, and
    no exact count of the whole table."""

    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator


class ReadOnlyAdminMixin:
    """For records written only by the services (history, messages): look, never touch.

    The signatures fit both ModelAdmin (called with the request) and inlines (request, obj).
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OutboxConsumerFilter(admin.SimpleListFilter):
    """The consumers registered in this process, without a SELECT DISTINCT over the table."""

    title = _("consumer")
    parameter_name = "consumer"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(name, name) for name in outbox.consumer_names()]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(consumer=self.value()) if self.value() else queryset


class OutboxStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("parked", _("Parked")), ("pending", _("Waiting to be applied"))]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        if self.value() in ("parked", "pending"):
            return queryset.filter(parked_at__isnull=self.value() == "pending")
        return queryset


@admin.register(OutboxEntry)
class OutboxEntryAdmin(BigTableAdmin):
    """What the consumers of the layers' events have yet to apply; entries that kept failing
    are parked with their error, to be retried once the cause is fixed, or discarded."""

    list_display = ("id", "stream", "consumer", "ref_id", "attempts", "created_at", "parked_at", "error")
    list_filter = (OutboxStateFilter, OutboxConsumerFilter)
    search_fields = ("ref_id__exact",)
    search_help_text = _("Exact id of the producer's row.")
    actions = ("retry_parked", "discard_parked")
    fields = ("stream", "consumer", "ref_id", "attempts", "created_at", "parked_at", "last_error")
    readonly_fields = fields

    @admin.display(description=_("last error"))
    def error(self, obj: OutboxEntry) -> str:
        return Truncator(obj.last_error).chars(80)

    @admin.action(description=_("Retry selected parked entries"), permissions=["change"])
    def retry_parked(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        entry_ids = list(queryset.values_list("id", flat=True))
        done = outbox.outbox_retry(entry_ids=entry_ids)
        self._report(request, done=done, asked=len(entry_ids), done_message=ngettext_lazy(
            "%(count)d entry put back in its stream.", "%(count)d entries put back in their streams.",
            "count"))

    @admin.action(description=_("Discard selected parked entries (never apply them)"),
                  permissions=["change"])
    def discard_parked(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        entry_ids = list(queryset.values_list("id", flat=True))
        done = outbox.outbox_discard(entry_ids=entry_ids)
        self._report(request, done=done, asked=len(entry_ids), done_message=ngettext_lazy(
            "%(count)d entry discarded.", "%(count)d entries discarded.", "count"))

    def _report(self, request: HttpRequest, *, done: int, asked: int, done_message: Any) -> None:
        message = done_message % {"count": done}
        if skipped := asked - done:
            message += " " + ngettext_lazy(
                "%(count)d skipped: only parked entries are retried or discarded.",
                "%(count)d skipped: only parked entries are retried or discarded.", "count",
            ) % {"count": skipped}
        self.message_user(request, message, messages.SUCCESS if done else messages.WARNING)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the producers' services only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting a waiting entry would lose its event: discard parked ones instead

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> Any:
        # Change permission is there for the actions; the form itself has nothing to save.
        extra_context = {**(extra_context or {}), "show_save": False,
                         "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)
