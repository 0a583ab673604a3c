"""Query-string filters for the contact and order API (django-filter)."""

from __future__ import annotations

from django.db.models import QuerySet
from django_filters import rest_framework as filters

from supportdesk.api import DateTimeRangeFilter, FilterSet, IdFilter
from timeline.models import Contact, Order


class ContactFilter(FilterSet):
    tag = filters.CharFilter(
        method="filter_tag", help_text="Contacts whose tags include this tag."
    )

    class Meta:
        model = Contact
        fields = ["kind", "preferred_language", "country", "tier", "courier_status"]

    def filter_tag(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        # Array containment. No index answers it (tags have none, so that changing them is a
        # HOT update: timeline.models.Contact): a scan, about 0.3 s over a million contacts.
        return queryset.filter(tags__contains=[value])


class OrderFilter(FilterSet):
    customer = IdFilter(field_name="customer__id", help_text="The customer's database id.")
    customer_external_id = filters.CharFilter(
        field_name="customer__external_id", help_text="The customer's id in the OMS."
    )
    placed_at = DateTimeRangeFilter(
        help_text="Placed within the range: `placed_at_after` and/or `placed_at_before` "
        "(ISO 8601, both ends included)."
    )

    class Meta:
        model = Order
        fields = ["status", "customer", "customer_external_id", "is_delayed", "placed_at"]
