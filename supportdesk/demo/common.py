"""What every part of the demo shares: its sizes, logins, and the lock that makes seeders take turns."""

from __future__ import annotations

from django.db import connection

from timeline.models import ContactKind

DEFAULT_SEED = 20240601
DEFAULT_CONTACTS = 300
DEFAULT_CHUNK_SIZE = 2_000
# Customer numbers have seven digits and each customer at most nine orders (one digit), so
# order ids stay O + eight digits.
MAX_CONTACTS = 10_000_000
BLOCK_SIZE = 10  # position 0: courier, 1: partner, 2..9: customers
CUSTOMERS_PER_BLOCK = BLOCK_SIZE - 2
MAX_ORDERS_PER_CUSTOMER = 8
# Held by each chunk's transaction, so two seeders running at once take turns instead of
# colliding on the same external ids.
ADVISORY_LOCK_KEY = 0x5EED_DE30

SUPERVISOR_USERNAME = "supervisor"
SUPERVISOR_PASSWORD = "supervisor"
AGENT_PASSWORD = "agent"

CUSTOMER = ContactKind.CUSTOMER.value
COURIER = ContactKind.COURIER.value
PARTNER = ContactKind.PARTNER.value


def advisory_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
