"""A customer's lifetime order value and order count, recomputed from their orders."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import connection, models, transaction

from timeline.models import Contact, Order, OrderStatus

_CONTACT, _ORDER = Contact._meta.db_table, Order._meta.db_table


def customer_totals_refresh(*, customer_id: int) -> Contact:
    """Recompute one customer's lifetime order value and order count from their orders."""
    customers_totals_refresh(customer_ids=[customer_id])
    return Contact.objects.get(pk=customer_id)


def customers_totals_refresh(*, customer_ids: Iterable[int]) -> None:
    """Recompute lifetime order value and order count from the orders themselves, for many
    customers in one statement.

    The customer rows are locked first (in id order, so two callers never deadlock), so
    concurrent refreshes for one customer run one after the other and each sees the orders
    the other committed. Cancelled orders do not count.

    Every order total fits its column, but enough of them add up past what the lifetime
    value's column holds: the value stops at the column's largest number rather than fail
    (an overflow here would hold back every later event of that customer).
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {_CONTACT} WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids]
        )
        cursor.execute(
            f"""
            UPDATE {_CONTACT} AS c
               SET lifetime_order_value = t.value,
                   order_count = t.orders,
                   updated_at = now()
              FROM (
                    SELECT wanted.id, least(coalesce(sum(o.total), 0), %s) AS value,
                           least(count(o.id), %s) AS orders
                      FROM unnest(%s::bigint[]) AS wanted(id)
                      LEFT JOIN {_ORDER} AS o
                             ON o.customer_id = wanted.id AND o.status <> %s
                     GROUP BY wanted.id
                   ) AS t
             WHERE c.id = t.id
               AND (c.lifetime_order_value, c.order_count) IS DISTINCT FROM (t.value, t.orders)
            """,
            [_LIFETIME_VALUE_CEILING, _ORDER_COUNT_CEILING, ids, OrderStatus.CANCELLED],
        )


def _column_ceiling(model: type[models.Model], name: str) -> Decimal:
    column = model._meta.get_field(name)
    return Decimal(10) ** (column.max_digits - column.decimal_places) - Decimal(1).scaleb(
        -column.decimal_places)


_LIFETIME_VALUE_CEILING = _column_ceiling(Contact, "lifetime_order_value")
_ORDER_COUNT_CEILING = 2**31 - 1  # PositiveIntegerField: a PostgreSQL integer
