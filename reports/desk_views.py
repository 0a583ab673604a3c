"""The reports' desk pages that are not the overview: exports and the drill-down list.
Thin: access (reports.access), the range and filters (reports.filters), then the module
that answers. The overview page and the staffing page have their own modules."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from reports import drill, exports, selectors
from reports.access import drill_conversations, reports_scope
from reports.filters import query_string, report_query
from reports.selectors import Scope
from supportdesk.errors import DomainError, error_body


def reports_page(view: Callable[..., HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A reports page's door: signed out, to the login page; neither an agent nor a
    supervisor, the "not allowed" page; else the view, called with what the user may see."""

    @wraps(view)
    def page(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        scope = reports_scope(request.user)
        if scope is None:
            return render(request, "reports/forbidden.html", status=403)
        return view(request, scope)

    return require_GET(page)


def _bad_request(request: HttpRequest, error: DomainError) -> HttpResponse:
    return render(request, "reports/error.html", {"message": error.message}, status=error.status_code)


@reports_page
def export(request: HttpRequest, scope: Scope) -> HttpResponse:
    """One table of the report as CSV or XLSX (?table=...&format=csv|xlsx)."""
    try:
        query = report_query(request.GET, scope)
        report = selectors.report(query, scope)
        return exports.export_response(report, table=(request.GET.get("table") or "").strip(),
                                       file_format=(request.GET.get("format") or "csv").strip())
    except DomainError as error:
        return JsonResponse(error_body(error.code, error.message), status=error.status_code)


@reports_page
def conversations(request: HttpRequest, scope: Scope) -> HttpResponse:
    """The conversations behind a number of the report, paged, each linked to its page."""
    try:
        query = report_query(request.GET, scope)
        visible = None if scope.agent_id is None else drill_conversations(request.user)
        page = drill.drill_page(visible=visible, query=query, params=request.GET)
    except DomainError as error:
        return _bad_request(request, error)
    metric = next((m for m in (*selectors.METRICS, *selectors.AGENT_METRICS)
                   if m.key == request.GET.get("metric")), None)
    keep = {name: request.GET.get(name, "") for name in ("metric", "dimension", "value", "at", "weekday",
                                                          "hour_of_day")}
    base = query_string(query, **keep)
    return render(request, "reports/conversations.html", {
        "page": page, "metric_label": metric.label if metric else "", "query": query, "keep": keep,
        "supervisor": scope.agent_id is None, "params": base, "overview_params": urlencode(query_string(query)),
        "title": _("Conversations behind the figure"),
    })
