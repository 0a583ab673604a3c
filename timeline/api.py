"""REST API v1 for contacts and orders: adapters between HTTP and the timeline's services."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from supportdesk.access import IsDeskUser, IsDeskUserOrIntegration, IsSupervisor
from timeline import selectors, services
from timeline.access import access_contact, contacts_visible
from timeline.filters import ContactFilter, OrderFilter
from timeline.models import Contact, Order
from timeline.search import contact_search
from timeline.serializers import (
    ContactCreateInputSerializer,
    ContactMergeInputSerializer,
    ContactSearchQuerySerializer,
    ContactSearchResultSerializer,
    ContactSerializer,
    ContactUpdateInputSerializer,
    OrderDetailSerializer,
    OrderSerializer,
)
from timeline.timeline_query import (
    TimelineEventSerializer,
    TimelinePagination,
    TimelineQuerySerializer,
    timeline_query_parse,
)


@extend_schema_view(
    list=extend_schema(summary="List contacts", description="Newest first, by cursor."),
    retrieve=extend_schema(summary="Get a contact"),
)
class ContactViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Customers, couriers and partners. Contacts are never deleted through the API."""

    # No OrderingFilter: the cursor pagination needs its own fixed, unique ordering.
    filter_backends = [DjangoFilterBackend, filters.SearchFilter]
    filterset_class = ContactFilter
    search_fields = ["name", "email", "phone", "external_id"]
    serializer_class = ContactSerializer
    lookup_value_regex = r"\d+"  # anything else is no contact: a 404, never int()'s error

    def get_permissions(self) -> list[BasePermission]:
        # Integrations keep contacts in step with their systems; the rest is the desk's (the
        # default), and merging a supervisor's (its action says so).
        if self.action in ("list", "retrieve", "create", "partial_update"):
            return [IsDeskUserOrIntegration()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[Contact]:
        # A merged contact leaves the list but stays reachable by id (links to it still work).
        return contacts_visible(self.request.user,
                                selectors.contact_list(include_merged=self.action != "list"))

    @extend_schema(
        summary="Create a contact",
        request=ContactCreateInputSerializer,
        responses={status.HTTP_201_CREATED: ContactSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = ContactCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        contact = services.contact_create(
            kind=fields.pop("kind"), external_id=fields.pop("external_id"), fields=fields,
            created_by=request.user,
        )
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change some of a contact's fields",
        request=ContactUpdateInputSerializer,
        responses={status.HTTP_200_OK: ContactSerializer},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        contact = self.get_object()
        serializer = ContactUpdateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        contact = services.contact_update(
            contact=contact, fields=dict(serializer.validated_data), changed_by=request.user
        )
        return Response(ContactSerializer(contact).data)

    @extend_schema(
        summary="A contact's timeline",
        description="Everything that happened to the contact, newest first, by cursor "
        "(events written meanwhile never shift or repeat the next pages).",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, many=True, explode=True,
                             description=TimelineQuerySerializer().fields["kind"].help_text),
            OpenApiParameter("since", OpenApiTypes.DATETIME,
                             description=TimelineQuerySerializer().fields["since"].help_text),
            OpenApiParameter("until", OpenApiTypes.DATETIME,
                             description=TimelineQuerySerializer().fields["until"].help_text),
        ],
        responses=TimelineEventSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=TimelinePagination,
            serializer_class=TimelineEventSerializer)
    def timeline(self, request: Request, pk: str) -> Response:
        # Not get_object(): the contact list's filters (?kind=customer) must not read ?kind=order.
        contact = access_contact(user=request.user, contact_id=int(pk), contacts=Contact.objects.only("pk"))
        events = selectors.timeline_events(contact_id=contact.pk, **timeline_query_parse(request.query_params))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(TimelineEventSerializer(page, many=True).data)


    @extend_schema(
        summary="Search contacts",
        description="By name, email, phone, external id or order id, whole or in part, "
        "whatever the accents; the best 20 matches, best first (not paginated). Merged "
        "contacts are never found.",
        parameters=[ContactSearchQuerySerializer],
        responses=ContactSearchResultSerializer(many=True),
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def search(self, request: Request) -> Response:
        query = ContactSearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        hits = contact_search(query=query.validated_data["q"], kind=query.validated_data.get("kind"))
        return Response(ContactSearchResultSerializer(hits, many=True).data)

    @extend_schema(
        summary="Merge this contact into another",
        description="For the same person known twice (supervisors only): the timeline, orders and "
        "conversations move to the contact `into`, its empty fields are filled from this one, "
        "and this one is kept, marked merged. Returns the contact kept.",
        request=ContactMergeInputSerializer,
        responses={status.HTTP_200_OK: ContactSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[], permission_classes=[IsSupervisor])
    def merge(self, request: Request, pk: str) -> Response:
        source = self.get_object()
        serializer = ContactMergeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target = contacts_visible(request.user, selectors.contact_list(include_merged=True)).filter(
            pk=serializer.validated_data["into"]
        ).first()
        if target is None:
            raise ValidationError({"into": ["No contact has this id."]})
        target = services.contact_merge(source=source, target=target, merged_by=request.user)
        return Response(ContactSerializer(target).data)


@extend_schema_view(
    list=extend_schema(summary="List orders", description="Newest first, by cursor."),
    retrieve=extend_schema(summary="Get an order with its status history"),
)
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Orders as mirrored from the OMS: read-only here, the OMS owns them."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter
    permission_classes = [IsDeskUser]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Order]:
        if self.action == "retrieve":
            return selectors.order_detail_list()
        return selectors.order_list()

    def get_serializer_class(self) -> type[BaseSerializer]:
        return OrderDetailSerializer if self.action == "retrieve" else OrderSerializer
