"""Contacts of three kinds, orders mirrored from the OMS, and the append-only timeline."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# A phone number's digits, whatever else it was written with ("+34 600 11 12 22" -> "34600111222").
PHONE_DIGITS = models.Func(models.F("phone"), models.Value("[^0-9]"), models.Value(""), models.Value("g"),
                           function="regexp_replace", output_field=models.CharField())

# The outbox stream every timeline event is written to (supportdesk.outbox): workflows and
# segments consume it.
TIMELINE_STREAM = "timeline.events"


class ContactKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    COURIER = "courier", _("Courier")
    PARTNER = "partner", _("Partner")


class CustomerTier(models.TextChoices):
    STANDARD = "standard", _("Standard")
    SILVER = "silver", _("Silver")
    GOLD = "gold", _("Gold")
    VIP = "vip", _("VIP")


class CourierVehicle(models.TextChoices):
    BICYCLE = "bicycle", _("Bicycle")
    SCOOTER = "scooter", _("Scooter")
    MOTORBIKE = "motorbike", _("Motorbike")
    CAR = "car", _("Car")
    VAN = "van", _("Van")
    ON_FOOT = "on_foot", _("On foot")


class CourierStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    IDLE = "idle", _("Idle")
    OFFLINE = "offline", _("Offline")


class Contact(models.Model):
    kind = models.CharField(max_length=16, choices=ContactKind.choices)
    external_id = models.CharField(max_length=128, help_text=_("The id the OMS knows them by."))
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    preferred_language = models.CharField(max_length=16, blank=True, help_text=_("BCP 47, e.g. es"))
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    attributes = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)

    # Customers
    lifetime_order_value = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0.00"),
        help_text=_("Sum of the totals of the customer's orders that were not cancelled."),
    )
    order_count = models.PositiveIntegerField(default=0)
    credit_balance = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    tier = models.CharField(max_length=16, choices=CustomerTier.choices, blank=True)

    # Couriers
    vehicle = models.CharField(max_length=16, choices=CourierVehicle.choices, blank=True)
    courier_status = models.CharField(max_length=16, choices=CourierStatus.choices, blank=True)
    current_order = models.ForeignKey(
        "timeline.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # Partners
    store_name = models.CharField(max_length=200, blank=True)
    store_category = models.CharField(max_length=64, blank=True)

    # Satisfaction, kept by the surveys (workflows.surveys) as ratings arrive.
    last_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    last_rated_at = models.DateTimeField(null=True, blank=True)
    rating_avg_90d = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    rating_count = models.PositiveIntegerField(default=0)
    # No proactive outreach (campaigns, proactive messages) to a contact who opted out.
    opted_out = models.BooleanField(default=False)

    # When each field was last set by the OMS, so an older event never overwrites a newer one.
    field_versions = models.JSONField(default=dict, blank=True, editable=False)
    # Set when this contact turned out to be the same person as another and was merged into
    # it (timeline.services.contact_merge): the row stays, for the record, out of search.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_contacts",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # The search indexes (trigram, over accent-free lower-case forms) are expression
        # indexes made in migration 0002_search, next to the SQL function they use.
        constraints = [
            models.UniqueConstraint(fields=["kind", "external_id"], name="contact_kind_external_id"),
        ]
        indexes = [
            models.Index(fields=["email"], name="contact_email"),
            # An email's sender is found whatever the case of the address (integrations.email_inbound).
            models.Index(Upper("email"), name="contact_email_upper", condition=~models.Q(email="")),
            models.Index(fields=["phone"], name="contact_phone"),
            # A caller's or writer's number finds the contact however the number was written
            # (integrations.phones: the digits alone, equal to the E.164 number's or its national ones).
            models.Index(PHONE_DIGITS, name="contact_phone_digits",
                         condition=models.Q(merged_into__isnull=True) & ~models.Q(phone="")),
            models.Index(fields=["kind", "-lifetime_order_value"], name="contact_kind_lov"),
        ]
        # No index on `tags`, and pages filled to half (migration 0005_timeline_contact_hot):
        # a change of tags, attributes, ratings or presence is then a HOT update, one small
        # row version in the same page, instead of a new entry in each of the table's eleven
        # indexes (three of them trigram indexes for search). A workflow tagging a million
        # contacts writes an eighth of the WAL it did. The API's ?tag= filter scans the
        # contacts instead (about 0.3 s over a million).

    def __str__(self) -> str:
        return f"{self.name or self.external_id} ({self.kind})"

    @property
    def is_vip(self) -> bool:
        return self.tier == CustomerTier.VIP


class OrderStatus(models.TextChoices):
    CREATED = "created", pgettext_lazy("order status", "Created")  # the reports' "Created" is a date
    ACCEPTED = "accepted", _("Accepted")
    PREPARING = "preparing", _("Preparing")
    READY = "ready", _("Ready for pick-up")
    PICKED_UP = "picked_up", _("Picked up")
    IN_DELIVERY = "in_delivery", _("In delivery")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


# Where an order still is before it is out for delivery: the statuses the OMS cancels it in.
ORDER_CANCELLABLE = frozenset({OrderStatus.CREATED, OrderStatus.ACCEPTED, OrderStatus.PREPARING,
                               OrderStatus.READY, OrderStatus.PICKED_UP})
# The courier has it on the way to the customer.
ORDER_ON_THE_WAY = frozenset({OrderStatus.PICKED_UP, OrderStatus.IN_DELIVERY})


def order_cancel_refusal(status: str) -> str | None:
    """Why an order in `status` cannot be cancelled any more (the OMS's refusal code), or None
    while it can: one rule for what the widget offers and what the fake OMS answers."""
    if status in ORDER_CANCELLABLE:
        return None
    refusals = {OrderStatus.CANCELLED: "already_cancelled", OrderStatus.DELIVERED: "delivered"}
    return refusals.get(status, "in_delivery")


class Order(models.Model):
    external_id = models.CharField(max_length=128, unique=True)
    customer = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    courier = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    partner = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="partner_orders"
    )
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.CREATED)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="EUR")
    items = models.JSONField(default=list, blank=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    promised_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    is_delayed = models.BooleanField(default=False)
    delay_minutes = models.PositiveIntegerField(default=0)
    delay_reason = models.CharField(max_length=200, blank=True)
    field_versions = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="order_customer_placed"),
            models.Index(fields=["courier", "-placed_at"], name="order_courier_placed"),
            models.Index(fields=["partner", "-placed_at"], name="order_partner_placed"),
            models.Index(fields=["status", "promised_at"], name="order_status_promised"),
        ]

    def __str__(self) -> str:
        return f"Order {self.external_id} ({self.status})"


class OrderStatusChange(models.Model):
    """One entry of an order's status history, kept in the order it happened, not arrived."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_history")
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    occurred_at = models.DateTimeField()
    source_event_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["order", "occurred_at"], name="order_status_history")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.status} at {self.occurred_at:%Y-%m-%d %H:%M}"


class TimelineEventQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise TypeError("Timeline events are append-only.")


class TimelineEvent(models.Model):
    """Something that happened to a contact. Append-only: written by `timeline.events` only."""

    # No index of its own: "timeline_contact_newest" (contact, occurred_at, id) leads with it.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="timeline_events",
                                db_index=False)
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=48)
    actor = models.CharField(
        max_length=64, blank=True, help_text=_('Who did it: "oms", "system", "user:<id>", ...')
    )
    payload = models.JSONField(default=dict, blank=True)
    subject_type = models.CharField(max_length=32, blank=True, help_text=_("order, conversation, ..."))
    subject_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TimelineEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="timeline_contact_newest"),
            models.Index(fields=["subject_type", "subject_id"], name="timeline_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for contact {self.contact_id} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("Timeline events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Timeline events are append-only.")
