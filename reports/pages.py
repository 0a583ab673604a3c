"""The reports' desk pages, server-rendered, working without JavaScript. Thin: who may read
them (reports.access), the query (the API's own serializer), then the module that works the
figures out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from conversations.live import duration_text
from reports.access import may_read_reports
from reports.forecast import StaffingWeek, next_week_start, staffing_week
from reports.serializers import StaffingQuerySerializer
from routing.models import CHANNELS, Queue
from supportdesk.api import detail_summary
from supportdesk.errors import DomainError


def _refused(request: HttpRequest) -> HttpResponse | None:
    """Strangers are sent to log in; anyone but a supervisor gets the forbidden page."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not may_read_reports(request.user):
        return render(request, "reports/staffing_forbidden.html", status=403)
    return None


def staffing_grid(week: StaffingWeek) -> dict[str, Any]:
    """The week as the table shows it: a column a day, a row an hour."""
    days = [week.week_start + timedelta(days=offset) for offset in range(7)]
    rows = [{"hour": hour, "cells": [week.hours[day * 24 + hour] for day in range(7)]} for hour in range(24)]
    return {"days": days, "rows": rows, "short": sum(1 for hour in week.hours if hour.short)}


def staffing_summary(week: StaffingWeek) -> dict[str, Any]:
    """What the figures rest on, in words: the target and each channel's measures."""
    return {
        "level": f"{week.service_level_target * 100:.0f} %",
        "target_wait": duration_text(week.queue.target_wait_seconds),
        "measures": [{"channel": measure.channel, "handle": duration_text(measure.handle_seconds),
                      "handle_measured": measure.handle_measured, "concurrency": measure.concurrency,
                      "patience": None if measure.patience_seconds is None else duration_text(
                          measure.patience_seconds)} for measure in week.channels],
    }


def _week_link(chosen: dict[str, str], week_start: Any) -> str:
    return "?" + urlencode({**{key: value for key, value in chosen.items() if value},
                            "week": week_start.isoformat()})


@require_GET
def staffing(request: HttpRequest) -> HttpResponse:
    """A queue's week: agents needed per hour beside those online last week."""
    if refused := _refused(request):
        return refused
    queues = list(Queue.objects.order_by("key").only("key", "name"))
    asked = {key: value for key, value in request.GET.items() if key in ("queue", "channel", "week") and value}
    chosen = {"queue": queues[0].key if queues else "", "channel": "", "week": next_week_start().isoformat(),
              **asked}
    context: dict[str, Any] = {"queues": queues, "channels": CHANNELS, "chosen": chosen}
    if not queues:
        return render(request, "reports/staffing.html", context)
    query = StaffingQuerySerializer(data=chosen)
    if not query.is_valid():
        return render(request, "reports/staffing.html", {**context, "problem": detail_summary(query.errors)},
                      status=400)
    try:
        week = staffing_week(queue=query.validated_data["queue"], channel=query.validated_data.get("channel", ""),
                             week_start=query.validated_data["week"])
    except DomainError as error:
        return render(request, "reports/staffing.html", {**context, "problem": error.message}, status=400)
    return render(request, "reports/staffing.html", {
        **context, "week": week, "grid": staffing_grid(week), "summary": staffing_summary(week),
        "earlier": _week_link(chosen, week.week_start - timedelta(days=7)),
        "later": _week_link(chosen, week.week_start + timedelta(days=7)),
    })
