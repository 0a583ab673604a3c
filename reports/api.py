"""The reports API (v1): the overview and the conversations behind a number, with the same
range and filters as the reports page (reports.filters), and staffing; thin over
reports.selectors and reports.forecast. Who may read them is reports.access."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import drill, selectors, self_service
from reports.access import MayReadReports, drill_conversations, reports_scope
from reports.filters import report_query
from reports.forecast import next_week_start, staffing_week
from reports.serializers import StaffingQuerySerializer, StaffingWeekSerializer

RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (desk time zone); with end."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, inclusive. Neither: the last 7 days."),
    OpenApiParameter("range", str, enum=["today", "7", "30"], description="Instead of start and end."),
    OpenApiParameter("queue", str, description="A queue's key."),
    OpenApiParameter("channel", str, enum=["chat", "email", "messaging", "voice", "task"]),
    OpenApiParameter("language", str, description="A language code, e.g. es."),
    OpenApiParameter("contact_kind", str, enum=["customer", "courier", "partner"]),
    OpenApiParameter("contact_reason", str, description="A contact reason's key."),
    OpenApiParameter("agent", int, description="An agent profile's id (agents: only their own)."),
    OpenApiParameter("compare", bool, description="Also the previous period of the same length."),
]


def _scope(request: Request) -> selectors.Scope:
    scope = reports_scope(request.user)
    if scope is None:
        raise PermissionDenied()
    return scope


class ReportOverviewView(APIView):
    @extend_schema(
        summary="Report: totals, series, hour of the week, tables by dimension and by agent",
        description="Read from the counters per hour. Supervisors see every agent's figures; an agent "
                    "sees the desk's and their own row of the agents' table. `self_service`: the widget's "
                    "self-service sessions and their deflection (no figure under a queue, channel or "
                    "contact reason filter).",
        parameters=RANGE_PARAMETERS, responses={200: OpenApiTypes.OBJECT}, tags=["reports"])
    def get(self, request: Request) -> Response:
        scope = _scope(request)
        query = report_query(request.query_params, scope)
        return Response({**selectors.report(query, scope), "self_service": self_service.self_service(query)})


class ReportConversationsView(APIView):
    @extend_schema(
        summary="Report drill-down: the conversations behind a number",
        parameters=[*RANGE_PARAMETERS,
                    OpenApiParameter("metric", str, required=True, description="A metric's key."),
                    OpenApiParameter("dimension", str, description="A table's dimension (queue, agent, ...)."),
                    OpenApiParameter("value", str, description="The row's value in that table."),
                    OpenApiParameter("at", OpenApiTypes.DATETIME, description="One bucket of the series."),
                    OpenApiParameter("weekday", int, description="0 = Monday; with hour_of_day."),
                    OpenApiParameter("hour_of_day", int),
                    OpenApiParameter("page", int)],
        responses={200: OpenApiTypes.OBJECT}, tags=["reports"])
    def get(self, request: Request) -> Response:
        scope = _scope(request)
        query = report_query(request.query_params, scope)
        visible = None if scope.agent_id is None else drill_conversations(request.user)
        page: dict[str, Any] = drill.drill_page(visible=visible, query=query, params=request.query_params)
        return Response(page)


class StaffingViewSet(viewsets.ViewSet):
    """/reports/staffing/: a queue's week, hour by hour."""

    permission_classes = [MayReadReports]

    @extend_schema(
        summary="Staffing for a queue's week (supervisors)",
        description="For each hour of the week, in the desk's time zone: the forecast arrivals, the agents "
        "needed to meet the service level target within the queue's target wait by Erlang C and by Erlang A "
        "(with the measured abandonment), and the agents who work the queue online at that hour last week.",
        parameters=[StaffingQuerySerializer],
        responses=StaffingWeekSerializer,
    )
    def list(self, request: Request) -> Response:
        query = StaffingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        week = staffing_week(queue=query.validated_data["queue"], channel=query.validated_data.get("channel", ""),
                             week_start=query.validated_data.get("week") or next_week_start())
        return Response(StaffingWeekSerializer(week).data)
