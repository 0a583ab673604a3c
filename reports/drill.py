"""The conversations behind a number of a report (the drill-down), read from the facts the
counters were summed from, so the list and the number agree."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils.translation import gettext as _

from reports.contributions import SHORT_ABANDON_SECONDS
from reports.models import ConversationFact, ItemFact
from reports.selectors import COLUMN, DIMENSIONS, ReportQuery
from supportdesk.errors import DomainError

# Which facts a metric counts, and by which of their times.
ITEM_METRICS = {"arrived", "answered", "service_level", "asa_seconds", "longest_wait_seconds", "abandoned",
                "abandonment_rate", "abandon_wait_seconds"}
CREATED_METRICS = {"created", "first_reply_seconds"}
RESOLVED_METRICS = {"resolved", "handle_seconds", "resolution_seconds", "fcr_rate", "reopened", "csat",
                    "rating_average", "ratings", "response_rate", "next_reply_seconds", "offers", "declined",
                    "missed", "occupancy", "online_seconds", "away_seconds", "offline_seconds"}
METRICS = ITEM_METRICS | CREATED_METRICS | RESOLVED_METRICS | {"backlog"}


def _narrow(facts: QuerySet, field: str, query: ReportQuery, params: Any) -> QuerySet:
    """The range (or the one bucket `at`, or the hour of the week) on the fact's time `field`."""
    start, end = query.bounds()
    if at := (params.get("at") or "").strip():
        try:
            start = datetime.fromisoformat(at)
        except ValueError:
            raise DomainError(_("at must be a date and time as ISO 8601."), code="invalid_filter") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=query.zone)
        end = start + (timedelta(hours=1) if query.interval == "hour" else timedelta(days=1))
    facts = facts.filter(**{f"{field}__gte": start, f"{field}__lt": end})
    weekday, hour = (params.get("weekday") or "").strip(), (params.get("hour_of_day") or "").strip()
    if weekday or hour:
        if not (weekday.isdigit() and hour.isdigit() and int(weekday) < 7 and int(hour) < 24):
            raise DomainError(_("weekday (0-6) and hour_of_day (0-23) go together."), code="invalid_filter")
        facts = (facts.annotate(drill_weekday=ExtractIsoWeekDay(field, tzinfo=query.zone),
                                drill_hour=ExtractHour(field, tzinfo=query.zone))
                 .filter(drill_weekday=int(weekday) + 1, drill_hour=int(hour)))
    return facts


def _dimension(facts: QuerySet, query: ReportQuery, params: Any, *, items: bool) -> QuerySet:
    filters = dict(query.filters)
    dimension, value = (params.get("dimension") or "").strip(), (params.get("value") or "").strip()
    if dimension:
        if dimension not in (*DIMENSIONS, "agent"):
            raise DomainError(_("dimension must be one of %(choices)s.") % {
                "choices": ", ".join((*DIMENSIONS, "agent"))}, code="invalid_filter")
        if dimension in ("queue", "agent") and not (value.isascii() and value.isdigit()):
            raise DomainError(_("value must be the id the report gave."), code="invalid_filter")
        filters[dimension] = int(value) if dimension in ("queue", "agent") else value
    for name in DIMENSIONS:
        if name in filters:
            facts = facts.filter(**{COLUMN[name]: filters[name]})
    if "agent" in filters:
        agent = filters["agent"]
        facts = facts.filter(agent_events__contains=[[agent]]) if items else facts.filter(agent_id=agent)
    return facts


def drill_conversation_ids(query: ReportQuery, params: Any) -> QuerySet:
    """The ids of the conversations behind `metric` (a query parameter) for this query, newest
    first, as a queryset of values (to page and to join with what the user may see)."""
    metric = (params.get("metric") or "").strip()
    if metric not in METRICS:
        raise DomainError(_("metric must be one of %(choices)s.") % {"choices": ", ".join(sorted(METRICS))},
                          code="invalid_filter")
    if metric in ITEM_METRICS:
        items = _narrow(ItemFact.objects.all(), "enqueued_at", query, params)
        facts = _dimension(items, query, params, items=True)
        if metric in ("answered", "asa_seconds"):
            facts = facts.filter(outcome="answered")
        elif metric in ("abandoned", "abandon_wait_seconds"):
            facts = facts.filter(outcome="abandoned", wait_seconds__gte=SHORT_ABANDON_SECONDS)
        elif metric in ("service_level", "abandonment_rate", "longest_wait_seconds"):
            facts = facts.filter(Q(outcome="answered")
                                 | Q(outcome="abandoned", wait_seconds__gte=SHORT_ABANDON_SECONDS))
        order = "-wait_seconds" if metric == "longest_wait_seconds" else "-enqueued_at"
        return facts.order_by(order, "-item_id").values_list("conversation_id", flat=True)
    if metric == "backlog":
        facts = _dimension(ConversationFact.objects.filter(resolved_at__isnull=True, closed_at__isnull=True),
                           query, params, items=False)
        return facts.order_by("created_at").values_list("conversation_id", flat=True)
    field = "created_at" if metric in CREATED_METRICS else "resolved_at"
    facts = _dimension(_narrow(ConversationFact.objects.all(), field, query, params), query, params, items=False)
    if metric == "reopened":
        facts = facts.filter(reopened=True)
    elif metric in ("csat", "rating_average", "ratings"):
        facts = facts.filter(rating__isnull=False)
    elif metric == "response_rate":
        facts = facts.filter(surveyed=True)
    elif metric == "first_reply_seconds":
        facts = facts.filter(first_reply_seconds__isnull=False)
    elif metric == "next_reply_seconds":
        facts = facts.filter(next_reply_count__gt=0)
    return facts.order_by(f"-{field}", "-conversation_id").values_list("conversation_id", flat=True)


PAGE_SIZE = 50


def drill_page(*, visible: QuerySet | None, query: ReportQuery, params: Any) -> dict[str, Any]:
    """One page of the conversations behind the number, of those `visible` to the asker
    (None: every one, a supervisor): {"count", "page", "pages", "results": [rows]}."""
    from conversations.models import Conversation  # noqa: PLC0415 (the rows shown, not the facts)

    raw_page = (params.get("page") or "1").strip()
    if not (raw_page.isascii() and raw_page.isdigit()) or not 1 <= int(raw_page) <= 100_000:
        raise DomainError(_("page must be a number from 1."), code="invalid_filter")
    page = int(raw_page)
    ids = drill_conversation_ids(query, params)
    if visible is not None:
        ids = ids.filter(conversation_id__in=visible.values("pk"))
    count = ids.count()
    wanted = list(ids[(page - 1) * PAGE_SIZE: page * PAGE_SIZE])
    rows = {row["id"]: row for row in Conversation.objects.filter(pk__in=wanted).values(
        "id", "contact__name", "channel", "status", "language", "contact_reason", "created_at", "resolved_at",
        "rating")}
    return {"count": count, "page": page, "pages": max((count + PAGE_SIZE - 1) // PAGE_SIZE, 1),
            "results": [rows[pk] for pk in dict.fromkeys(wanted) if pk in rows]}
