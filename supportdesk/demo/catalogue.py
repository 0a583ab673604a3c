"""What gets sold: stores, menus, fees, delays, couriers' vehicles, customer tiers."""

from __future__ import annotations

from decimal import Decimal

from timeline.events import EventKind
from timeline.models import CourierStatus, CourierVehicle, CustomerTier, OrderStatus

STORE_BRANDS: dict[str, tuple[str, ...]] = {
    "restaurant": ("Burger Hub", "Pizza Nostra", "Sushi Go", "Taco Loco", "Green Bowl",
                   "Kebab House", "Noodle Bar", "Pollo Feliz"),
    "grocery": ("FreshMart", "Daily Market", "City Grocer"),
    "pharmacy": ("CarePharma", "Central Pharmacy"),
    "florist": ("Bloom & Co",),
    "convenience": ("QuickStop", "Corner 24/7"),
}
STORE_CATEGORY_WEIGHTS = {"restaurant": 50, "grocery": 20, "pharmacy": 10, "florist": 5,
                          "convenience": 15}
MENUS: dict[str, tuple[tuple[str, str], ...]] = {
    "restaurant": (("Cheeseburger", "8.90"), ("Margherita pizza", "10.50"),
                   ("California roll x8", "9.00"), ("Chicken tacos", "7.50"),
                   ("Poke bowl", "11.90"), ("Fries", "3.50"), ("Soft drink", "2.20")),
    "grocery": (("Milk 1 l", "1.10"), ("Bread", "2.30"), ("Eggs x12", "3.40"),
                ("Bananas 1 kg", "1.90"), ("Coffee 250 g", "4.50"), ("Olive oil 1 l", "8.90"),
                ("Tomatoes 1 kg", "2.60")),
    "pharmacy": (("Ibuprofen 400 mg", "4.20"), ("Sunscreen SPF 50", "12.90"),
                 ("Vitamin C", "7.50"), ("Plasters", "3.10")),
    "florist": (("Roses x12", "29.00"), ("Tulips x10", "18.00"), ("Orchid", "24.50")),
    "convenience": (("Crisps", "2.10"), ("Ice cream", "4.30"), ("AA batteries x4", "5.90"),
                    ("Sparkling water 1.5 l", "1.20")),
}
DELIVERY_FEES = (Decimal("1.49"), Decimal("1.99"), Decimal("2.49"), Decimal("2.99"))
DELAY_REASONS = ("Restaurant running late", "Heavy traffic", "Courier reassigned",
                 "Bad weather", "High demand in the area")
VEHICLE_WEIGHTS = {CourierVehicle.BICYCLE: 25, CourierVehicle.SCOOTER: 20,
                   CourierVehicle.MOTORBIKE: 30, CourierVehicle.CAR: 12, CourierVehicle.VAN: 5,
                   CourierVehicle.ON_FOOT: 8}
COURIER_STATUS_WEIGHTS = {CourierStatus.ACTIVE: 40, CourierStatus.IDLE: 30,
                          CourierStatus.OFFLINE: 30}
# Orders per customer (index) and how often; about 3.4 on average.
ORDER_COUNT_WEIGHTS = (5, 15, 20, 20, 15, 10, 7, 5, 3)
# Status a live order can be in, and the path every order takes.
LIVE_STATUSES = (OrderStatus.ACCEPTED, OrderStatus.PREPARING, OrderStatus.PICKED_UP,
                 OrderStatus.IN_DELIVERY)
DELIVERED_PATH = (OrderStatus.CREATED, OrderStatus.ACCEPTED, OrderStatus.PREPARING,
                  OrderStatus.PICKED_UP, OrderStatus.DELIVERED)
# Minutes from the previous status to this one.
STATUS_STEP_MINUTES = {
    OrderStatus.ACCEPTED: (1, 4), OrderStatus.PREPARING: (2, 6), OrderStatus.READY: (5, 15),
    OrderStatus.PICKED_UP: (10, 25), OrderStatus.IN_DELIVERY: (1, 3),
    OrderStatus.DELIVERED: (8, 25), OrderStatus.CANCELLED: (2, 20),
}
STATUS_EVENT_KINDS = {
    OrderStatus.DELIVERED: EventKind.ORDER_DELIVERED,
    OrderStatus.CANCELLED: EventKind.ORDER_CANCELLED,
}
# Tiers follow what a customer spent, plus a few VIPs the business picked by hand.
TIER_THRESHOLDS = ((Decimal("350"), CustomerTier.VIP), (Decimal("200"), CustomerTier.GOLD),
                   (Decimal("100"), CustomerTier.SILVER))
CREDIT_AMOUNTS = (Decimal("2.50"), Decimal("5.00"), Decimal("10.00"), Decimal("15.00"),
                  Decimal("20.00"))
