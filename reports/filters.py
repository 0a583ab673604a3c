"""A report's range and filters from a request's query string, checked: the page, the API,
the exports and the drill-down read them here, so they agree on every parameter."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from conversations.models import Channel, ContactReason
from reports.selectors import ReportQuery, Scope
from routing.models import AgentProfile, Queue
from supportdesk.errors import DomainError
from timeline.models import ContactKind

MAX_DAYS = 731
PRESETS = {"today": 1, "7": 7, "30": 30}
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
TRUE = {"1", "true", "on", "yes"}


class Forbidden(DomainError):
    code = "permission_denied"
    status_code = 403


def _date(params: Any, name: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = _("%(name)s must be a date as YYYY-MM-DD, not %(value)r.") % {"name": name, "value": raw[:40]}
        raise DomainError(message, code="invalid_date") from None


def today() -> date:
    """Today in the desk's time zone (the reports' days are its days)."""
    return datetime.now(zoneinfo.ZoneInfo(settings.TIME_ZONE)).date()


def report_query(params: Any, scope: Scope) -> ReportQuery:
    """The ReportQuery these query parameters ask for; DomainError (400) for a bad one, and
    Forbidden (403) for an agent asking for another agent's figures."""
    start, end = _date(params, "start"), _date(params, "end")
    preset = (params.get("range") or "").strip()
    if preset and preset not in PRESETS:
        raise DomainError(_("range must be one of %(choices)s.") % {"choices": ", ".join(PRESETS)},
                          code="invalid_range")
    if start is None and end is None:
        end = today()
        start = end - timedelta(days=PRESETS.get(preset, 7) - 1)
    elif start is None or end is None:
        raise DomainError(_("Give both start and end, or neither."), code="invalid_range")
    if end < start:
        raise DomainError(_("end comes before start."), code="invalid_range")
    if (end - start).days + 1 > MAX_DAYS:
        raise DomainError(_("A report covers at most %(days)s days.") % {"days": MAX_DAYS}, code="invalid_range")
    filters: dict[str, Any] = {}
    if key := (params.get("queue") or "").strip():
        queue_id = Queue.objects.filter(key=key).values_list("pk", flat=True).first()
        if queue_id is None:
            raise DomainError(_("No queue %(key)r.") % {"key": key[:100]}, code="invalid_filter")
        filters["queue"] = queue_id
    for name, allowed in (("channel", Channel.values), ("contact_kind", ContactKind.values)):
        if value := (params.get(name) or "").strip():
            if value not in allowed:
                raise DomainError(_("%(name)s must be one of %(choices)s.") % {"name": name,
                                                                              "choices": ", ".join(allowed)},
                                  code="invalid_filter")
            filters[name] = value
    if language := (params.get("language") or "").strip():
        if not LANGUAGE.match(language):
            raise DomainError(_("language must be a language code such as es or pt-BR."), code="invalid_filter")
        filters["language"] = language
    if reason := (params.get("contact_reason") or "").strip():
        if not ContactReason.objects.filter(key=reason).exists():
            raise DomainError(_("No contact reason %(key)r.") % {"key": reason[:100]}, code="invalid_filter")
        filters["contact_reason"] = reason
    if agent := (params.get("agent") or "").strip():
        if not agent.isascii() or not agent.isdigit() or not AgentProfile.objects.filter(pk=int(agent)).exists():
            raise DomainError(_("No agent %(id)r.") % {"id": agent[:20]}, code="invalid_filter")
        if scope.agent_id is not None and int(agent) != scope.agent_id:
            raise Forbidden(_("Agents see their own figures only."))
        filters["agent"] = int(agent)
    return ReportQuery(start=start, end=end, filters=filters,
                       compare=(params.get("compare") or "").strip().lower() in TRUE)


def query_string(query: ReportQuery, **extra: Any) -> dict[str, str]:
    """The query parameters that ask for `query` again (links to drill-downs and exports)."""
    params = {"start": query.start.isoformat(), "end": query.end.isoformat()}
    for name, value in query.filters.items():
        params[name] = Queue.objects.get(pk=value).key if name == "queue" else str(value)
    if query.compare:
        params["compare"] = "1"
    return {**params, **{name: str(value) for name, value in extra.items() if value not in (None, "")}}

