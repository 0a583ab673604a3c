"""The reports page of the desk (/desk/reports/): the controls and an empty frame.

The figures are not rendered here: static/reports/reports.js reads the page's state from the
query string, asks the reports API for it (with the person's session, so the API's own scope
decides what an agent sees: the queues' figures and their own row of the agents' table) and
draws the charts and tables. This view only lets in whom the reports serve (reports.access,
as the drill-down and the exports do), and hands the script its addresses, the desk's date of
today and the words it writes (JS has no gettext of its own).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import get_language, gettext, pgettext

from reports.desk_views import reports_page
from reports.filters import today
from reports.selectors import Scope

DIMENSIONS = ("queue", "channel", "language", "contact_kind", "contact_reason", "agent")
TABLES = ("queue", "language", "channel", "contact_kind", "contact_reason", "agent")  # in the page's order


def overview_labels() -> dict[str, Any]:
    """The words static/reports/reports.js writes. Metric names come with the API's answer."""
    return {
        "loading": gettext("Loading the reports…"),
        "loaded": gettext("Reports for %(start)s to %(end)s (%(time_zone)s)."),
        "compared": gettext("Compared with %(start)s to %(end)s."),
        "error": gettext("The reports could not be loaded: %(message)s"),
        "unavailable": gettext("The reports cannot be read now; try again shortly."),
        "network": gettext("The desk did not answer. Check the connection and try again."),
        "signed_out": gettext("Your session has ended: reload the page to sign in again."),
        "bad_range": gettext("Choose a start date on or before the end date."),
        "all": {"queue": gettext("All queues"), "channel": gettext("All channels"),
                "language": gettext("All languages"), "contact_kind": gettext("All contact kinds"),
                "contact_reason": gettext("All contact reasons"), "agent": gettext("All agents")},
        "dimensions": {"queue": gettext("Queue"), "channel": gettext("Channel"), "language": gettext("Language"),
                       "contact_kind": gettext("Contact kind"), "contact_reason": gettext("Contact reason"),
                       "agent": gettext("Agent")},
        "previous_of": gettext("%(label)s, previous period"),
        "points": pgettext("percentage points", "pts"),
        "no_rows": gettext("Nothing in this range."),
        "not_measurable": gettext("not measurable"),
        "period": gettext("Period"),
        "hour": gettext("Hour"),
        "weekdays": [str(WEEKDAYS_ABBR[day]) for day in range(7)],  # 0 is Monday, as the API counts
        "drill_title": gettext("The conversations behind this number"),
    }


def overview_context() -> dict[str, Any]:
    """The page's controls and tables, and what its script is handed."""
    labels = overview_labels()
    titles = {"queue": gettext("By queue"), "language": gettext("By language"), "channel": gettext("By channel"),
              "contact_kind": gettext("By contact kind"), "contact_reason": gettext("By contact reason"),
              "agent": gettext("Agents"), "series": gettext("Over time")}
    return {
        # "today", "7 days" and "30 days" count back from the desk's today, not the browser's.
        "reports_config": {"api_url": reverse("reports-overview-api"),
                           "drill_url": reverse("reports-conversations"), "export_url": reverse("reports-export"),
                           "today": today().isoformat(), "language": get_language() or "en",
                           "dimensions": DIMENSIONS},
        "reports_labels": labels,
        "filters": [{"key": key, "label": labels["dimensions"][key], "all": labels["all"][key]}
                    for key in DIMENSIONS],
        "tables": [{"key": key, "title": titles[key], "dimension": key != "series"}
                   for key in (*TABLES, "series")],
    }


@reports_page
def overview(request: HttpRequest, scope: Scope) -> HttpResponse:
    return render(request, "reports/overview.html", overview_context())
