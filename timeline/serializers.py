"""The API shapes of contacts and orders: output serializers and the input they accept."""

from __future__ import annotations

from rest_framework import serializers

from supportdesk.api import StrictInputMixin
from timeline.models import Contact, ContactKind, Order, OrderStatusChange


class ContactSummarySerializer(serializers.ModelSerializer):
    """A contact as another object shows it."""

    class Meta:
        model = Contact
        fields = ["id", "kind", "external_id", "name"]
        read_only_fields = fields


class ContactSerializer(serializers.ModelSerializer):
    current_order = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True,
        help_text="External id of the order a courier is delivering now.",
    )

    class Meta:
        model = Contact
        fields = [
            "id", "kind", "external_id", "name", "email", "phone", "preferred_language",
            "country", "attributes", "tags",
            # customers
            "lifetime_order_value", "order_count", "credit_balance", "tier",
            # couriers
            "vehicle", "courier_status", "current_order",
            # partners
            "store_name", "store_category",
            "created_at", "updated_at",
        ]
        read_only_fields = fields


class ContactUpdateInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    """The fields a person may change. Totals come from orders, identity from creation."""

    current_order = serializers.SlugRelatedField(
        slug_field="external_id", queryset=Order.objects.all(), required=False, allow_null=True,
        help_text="External id of the order a courier is delivering now.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=True
    )
    attributes = serializers.DictField(required=False)

    class Meta:
        model = Contact
        fields = [
            "name", "email", "phone", "preferred_language", "country", "attributes", "tags",
            "credit_balance", "tier", "vehicle", "courier_status", "current_order",
            "store_name", "store_category",
        ]


class ContactCreateInputSerializer(ContactUpdateInputSerializer):
    class Meta(ContactUpdateInputSerializer.Meta):
        fields = ["kind", "external_id", *ContactUpdateInputSerializer.Meta.fields]
        extra_kwargs = {"kind": {"required": True}, "external_id": {"required": True}}
        # (kind, external id) is unique: the service answers a duplicate with 409, also when
        # two requests race, so the serializer's own uniqueness check would only duplicate it.
        validators: list = []


class OrderStatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderStatusChange
        fields = ["status", "occurred_at"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    customer = ContactSummarySerializer(read_only=True, allow_null=True)
    courier = ContactSummarySerializer(read_only=True, allow_null=True)
    partner = ContactSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id", "external_id", "customer", "courier", "partner", "status", "total",
            "currency", "items", "placed_at", "promised_at", "delivered_at", "cancelled_at",
            "is_delayed", "delay_minutes", "delay_reason", "created_at", "updated_at",
        ]
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    status_history = OrderStatusChangeSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "status_history"]
        read_only_fields = fields


class ContactSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        trim_whitespace=True, allow_blank=True,
        help_text="Name, email, phone, external id or order id, whole or in part; accents and "
        "case do not matter. 2 to 100 characters.",
    )
    kind = serializers.ChoiceField(
        choices=ContactKind.choices, required=False, help_text="Only contacts of this kind."
    )


class ContactSearchResultSerializer(serializers.Serializer):
    """One search hit: the contact, and what of it matched (best first in the list)."""

    id = serializers.IntegerField(source="contact.id")
    kind = serializers.CharField(source="contact.kind")
    external_id = serializers.CharField(source="contact.external_id")
    name = serializers.CharField(source="contact.name")
    email = serializers.CharField(source="contact.email")
    phone = serializers.CharField(source="contact.phone")
    match = serializers.ChoiceField(
        choices=["external_id", "order", "email", "phone", "name"],
        help_text="What matched: the contact's external id, the id of one of their orders, "
        "their email, phone or name.",
    )


class ContactMergeInputSerializer(StrictInputMixin, serializers.Serializer):
    into = serializers.IntegerField(
        min_value=1, help_text="Id of the contact to keep; this one is merged into it."
    )
