"""REST API v1 for routing: adapters over the routing services and selectors.

Agents (users with an agent profile) set their presence, send heartbeats, list their open
work and decline offers. Supervisors (the core's one definition, supportdesk.access) see
queue figures and every work item. Accepting and transferring are the conversation's use
cases too (assignee, timeline, pushes), so conversations.api serves them on these URLs.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from routing import selectors, services
from routing.access import IsAgent, access_work_item_to_decline
from routing.filters import WorkItemFilter
from routing.models import WorkItem
from routing.serializers import (
    AgentRoutingStateSerializer,
    DeclineInputSerializer,
    HeartbeatSerializer,
    PresenceInputSerializer,
    QueueStatsSerializer,
    WorkItemDetailSerializer,
    WorkItemSerializer,
)
from supportdesk.access import IsSupervisor
from supportdesk.api import DefaultCursorPagination

# The id in the URL is digits only (anything else is a 404, never a 500 from int()); the
# schema shows it as the integer it is rather than as the pattern.
ITEM_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The work item's id.")


class WorkItemPagination(DefaultCursorPagination):
    # Work items have no created_at; enqueued_at is set once, at creation.
    ordering = ("-enqueued_at", "-id")


class AgentItemPagination(DefaultCursorPagination):
    # An agent's own work, the customer who has waited longest first.
    ordering = ("enqueued_at", "id")


class AgentRoutingViewSet(viewsets.GenericViewSet):
    # The calling agent's routing: /routing/presence/, /routing/heartbeat/, /routing/me/items/.
    permission_classes = [IsAgent]
    serializer_class = WorkItemSerializer
    pagination_class = AgentItemPagination
    filter_backends: list = []

    @extend_schema(
        methods=["GET"], summary="Get my routing state",
        description="My presence, and my capacity and load (items offered or assigned) per channel.",
        responses=AgentRoutingStateSerializer,
    )
    @extend_schema(
        methods=["POST"], summary="Set my presence",
        description="Online pulls waiting work; away returns open offers (and assigned items "
        "with `reassign`); offline returns every open item to its queue.",
        request=PresenceInputSerializer, responses=AgentRoutingStateSerializer,
    )
    @action(detail=False, methods=["get", "post"])
    def presence(self, request: Request) -> Response:
        if request.method == "POST":
            serializer = PresenceInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            agent = services.presence_set(user=request.user, **serializer.validated_data)
        else:
            agent = selectors.agent_get(user=request.user)
        return Response(AgentRoutingStateSerializer(selectors.agent_routing_state(agent=agent)).data)

    @extend_schema(
        summary="Tell routing I am still here",
        description="Agents whose heartbeats stop are set offline and their work requeued.",
        request=None, responses=HeartbeatSerializer,
    )
    @action(detail=False, methods=["post"])
    def heartbeat(self, request: Request) -> Response:
        agent = services.heartbeat(user=request.user)
        return Response(HeartbeatSerializer(agent).data)

    @extend_schema(
        summary="List my open work items",
        description="Items offered to me (answer before `offer_expires_at`) and assigned to me; "
        "oldest first, by cursor.",
        responses=WorkItemSerializer(many=True),
    )
    @action(detail=False, methods=["get"], url_path="me/items", url_name="my-items")
    def my_items(self, request: Request) -> Response:
        agent = selectors.agent_get(user=request.user)
        page = self.paginate_queryset(selectors.agent_item_list(agent=agent))
        return self.get_paginated_response(WorkItemSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List work items (supervisors)", description="Newest first, by cursor."),
    retrieve=extend_schema(summary="Get a work item with its history (supervisors)",
                           description="The item and its events, oldest first.", parameters=[ITEM_ID]),
)
class WorkItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    # Listing and reading are for supervisors; declining for the item's agent.

    permission_classes = [IsSupervisor]
    filter_backends = [DjangoFilterBackend]
    filterset_class = WorkItemFilter
    pagination_class = WorkItemPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[WorkItem]:
        if self.action == "retrieve":
            return selectors.work_item_detail_list()
        return selectors.work_item_list()

    def get_serializer_class(self) -> type[BaseSerializer]:
        return WorkItemDetailSerializer if self.action == "retrieve" else WorkItemSerializer

    @extend_schema(
        summary="Decline an offer made to me",
        description="The item goes to the next eligible agent, never back to me.",
        parameters=[ITEM_ID], request=DeclineInputSerializer, responses=WorkItemSerializer,
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAgent])
    def decline(self, request: Request, pk: str) -> Response:
        serializer = DeclineInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = access_work_item_to_decline(user=request.user, item_id=int(pk))
        item = services.offer_decline(item_id=item.pk, user=request.user, **serializer.validated_data)
        return Response(WorkItemSerializer(item).data)


class QueueStatsViewSet(viewsets.GenericViewSet):
    """Live figures per queue for supervisors, at /routing/queues/stats/."""

    permission_classes = [IsSupervisor]
    filter_backends: list = []
    pagination_class = None  # one row per active queue: a short list

    @extend_schema(
        summary="Queue figures (supervisors)",
        description="Per active queue, highest priority first: waiting, offered and assigned "
        "items now, the longest wait, online agents who can serve it and how many are at "
        "capacity, today's service level and breaches.",
        responses=QueueStatsSerializer(many=True),
    )
    @action(detail=False, methods=["get"])
    def stats(self, request: Request) -> Response:
        return Response(QueueStatsSerializer(selectors.queue_stats(), many=True).data)
