"""Writes to contacts and orders, one module per use case (each change that matters records a
timeline event); the names callers use are re-exported here, so `from timeline import services`
keeps working."""

from timeline.services.contacts import contact_create, contact_update, contact_upsert
from timeline.services.fields import CONTACT_FIELDS, ORDER_FIELDS
from timeline.services.merge import contact_merge
from timeline.services.mirror import (
    CONTACT_KIND_ORDER,
    MirroredContact,
    MirroredEvent,
    MirroredOrder,
    MirrorResult,
    mirror_batch,
)
from timeline.services.orders import OrderUpsertResult, order_upsert
from timeline.services.totals import customer_totals_refresh, customers_totals_refresh

__all__ = [
    "CONTACT_FIELDS", "CONTACT_KIND_ORDER", "ORDER_FIELDS", "MirrorResult", "MirroredContact", "MirroredEvent",
    "MirroredOrder", "OrderUpsertResult", "contact_create", "contact_merge", "contact_update", "contact_upsert",
    "customer_totals_refresh", "customers_totals_refresh", "mirror_batch", "order_upsert",
]
