"""REST API v1 for contacts and orders: adapters between HTTP and the timeline's services."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from timeline import selectors, services
from timeline.filters import ContactFilter, OrderFilter
from timeline.models import Contact, Order
from timeline.serializers import (
    ContactCreateInputSerializer,
    ContactSerializer,
    ContactUpdateInputSerializer,
    OrderDetailSerializer,
    OrderSerializer,
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

    def get_queryset(self) -> QuerySet[Contact]:
        return selectors.contact_list()

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


@extend_schema_view(
    list=extend_schema(summary="List orders", description="Newest first, by cursor."),
    retrieve=extend_schema(summary="Get an order with its status history"),
)
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Orders as mirrored from the OMS: read-only here, the OMS owns them."""

    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        if self.action == "retrieve":
            return selectors.order_detail_list()
        return selectors.order_list()

    def get_serializer_class(self) -> type[BaseSerializer]:
        return OrderDetailSerializer if self.action == "retrieve" else OrderSerializer
