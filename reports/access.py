"""Who may read the reports' entry points: the one place they check (DESIGN.md)."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from conversations.access import conversations_visible
from reports.selectors import Scope
from routing.access import is_agent
from routing.models import AgentProfile
from supportdesk.access import is_supervisor


def may_read_reports(user: Any) -> bool:
    """The reports (staffing, ...) show every queue's and agent's figures: supervisors only
    (the core's one definition of one). Pages and the API alike ask here."""
    return is_supervisor(user)


class MayReadReports(BasePermission):
    """`may_read_reports` at the API's door."""

    message = _("Only supervisors may read the reports.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_read_reports(request.user)


def metrics_allowed(request: HttpRequest) -> bool:
    """/metrics: a scraper showing METRICS_TOKEN as a bearer token, or one whose address is in
    METRICS_ALLOWED_NETWORKS. A wrong token is refused even from an allowed network (it is a
    mistake to see, not to hide)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        return bool(settings.METRICS_TOKEN) and scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), settings.METRICS_TOKEN.encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    networks = settings.METRICS_ALLOWED_NETWORKS
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def reports_scope(user: Any) -> Scope | None:
    """What this user may see of the reports: a supervisor everything; an agent the desk's
    figures and, of the agents' table, only their own row; anyone else nothing (None)."""
    if is_supervisor(user):
        return Scope()
    if is_agent(user):
        profile_id = AgentProfile.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
        return Scope(agent_id=profile_id) if profile_id is not None else None
    return None


def drill_conversations(user: Any) -> QuerySet:
    """The conversations a drill-down may list to this user: the ones they may see."""
    return conversations_visible(user)
