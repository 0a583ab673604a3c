"""Pieces the apps' admin modules share: read-only pages and lists that stay fast on big tables.

The tables the desk keeps grow to millions of rows, so changelists avoid the two things
that make Django's admin slow on them: one query per row (list_select_related) and counting
the whole table (show_full_result_count = False, and the estimated count below).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections, models
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html

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
