"""Self-service deflection in the reports: the widget sessions that got an answer without an
agent in the range, and how many of them no conversation followed within 24 hours
(conversations.deflection defines a session and its outcome).

A direct query, not counters: one index-only scan of the sessions that started in the range
(`self_service_started` includes every column counted), far fewer rows than the
conversations the counters exist for, and an outcome that changes with the clock alone (a
session turns deflected 24 hours after its last answer, with no event to roll up). Counted in
the hour the session started (its first answer), like a conversation in the hour it was
created; a session still within its 24 hours counts as *open*, neither deflected nor followed,
and the rate is over the settled ones.

Sessions are the widget's, so only the language and contact kind filters apply; with a queue,
channel or contact reason filter there is no such figure (`applies` is false), rather than the
desk's figure under a filter it ignores.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from conversations.deflection import WINDOW
from conversations.models import SelfServiceSession
from reports.selectors import Metric, ReportQuery

APPLIES_WITH = ("language", "contact_kind")
NOT_PER = ("queue", "channel", "contact_reason", "agent")

METRICS = (
    Metric("answered", _("Sessions answered"), "count",
           _("Widget sessions that got an answer without an agent: an article read, or self-service answers.")),
    Metric("deflected", _("Deflected"), "count",
           _("Answered, and no conversation from the contact within 24 hours of the last answer.")),
    Metric("followed", _("Followed by a conversation"), "count",
           _("The contact opened a conversation within 24 hours of the session's last answer.")),
    Metric("open", _("Within 24 hours"), "count", _("Not settled yet: the 24 hours are still running.")),
    Metric("deflection_rate", _("Deflection rate"), "percent", _("Deflected over the settled sessions.")),
)

_SQL = f"""
SELECT count(*) AS answered,
       count(*) FILTER (WHERE followed_at IS NOT NULL) AS followed,
       count(*) FILTER (WHERE followed_at IS NULL AND answered_at <= %s) AS deflected
  FROM {SelfServiceSession._meta.db_table}
 WHERE started_at >= %s AND started_at < %s"""


def deflection_figures(answered: int, followed: int, deflected: int) -> dict[str, Any]:
    """The figures out of the three counts (the metric's one definition)."""
    settled = followed + deflected
    return {"answered": answered, "deflected": deflected, "followed": followed,
            "open": answered - settled, "deflection_rate": deflected / settled if settled else None}


def _period(query: ReportQuery) -> dict[str, Any]:
    start, end = query.bounds()
    sql, params = _SQL, [timezone.now() - WINDOW, start, end]
    for name in APPLIES_WITH:
        if name in query.filters:
            sql += f" AND {name} = %s"
            params.append(query.filters[name])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        answered, followed, deflected = cursor.fetchone()
    return deflection_figures(answered, followed, deflected)


def self_service(query: ReportQuery) -> dict[str, Any]:
    """The deflection block of the overview: its metrics, this period's and (comparing) the previous."""
    metrics = [{"key": metric.key, "label": str(metric.label), "format": metric.format, "help": str(metric.help)}
               for metric in METRICS]
    if any(name in query.filters for name in NOT_PER):
        return {"applies": False, "metrics": metrics, "totals": None, "previous": None}
    return {"applies": True, "metrics": metrics, "totals": _period(query),
            "previous": _period(query.previous()) if query.compare else None}
