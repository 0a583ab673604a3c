"""Database helpers the apps share."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models


def rows_update(instances: Sequence[models.Model], field_names: Sequence[str], *,
                using: str = "default", batch_size: int = 500) -> int:
    """Write `field_names` of many rows of one model in one UPDATE ... FROM (VALUES ...) per
    `batch_size` rows.

    What `QuerySet.bulk_update` does, without its CASE WHEN expression per row and field,
    which costs far more to build in Python than the statement costs PostgreSQL to run.
    No signals, no auto_now: the caller sets what it wants written.
    """
    if not instances:
        return 0
    model = type(instances[0])
    connection = connections[using]
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    if any(not field.concrete or field.primary_key for field in fields):
        raise ValueError("Only concrete, non-primary-key fields can be written.")
    quote = connection.ops.quote_name
    pk = meta.pk
    columns = [pk, *fields]
    placeholders = "(" + ", ".join(f"%s::{field.cast_db_type(connection)}" for field in columns) + ")"
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    names = ", ".join(quote(f.column) for f in columns)
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(instances), batch_size):
            chunk = instances[start:start + batch_size]
            params = [
                field.get_db_prep_save(getattr(row, field.attname), connection)
                for row in chunk for field in columns
            ]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                f"FROM (VALUES {', '.join([placeholders] * len(chunk))}) AS v({names}) "
                f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}",
                params,
            )
            updated += cursor.rowcount
    return updated
