"""Database helpers the apps share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

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


# --- the event loop's own connection ----------------------------------------------------------------


class _LoopConnection:
    """One psycopg AsyncConnection for the process's event loop, used one statement at a time."""

    def __init__(self, loop_id: int) -> None:
        self.loop_id = loop_id
        self.connection: Any = None
        self.lock = asyncio.Lock()

    def close(self) -> None:
        # Synchronous on purpose: the loop that opened it may be gone (a test's, a restart's).
        if self.connection is not None and not self.connection.closed:
            self.connection.pgconn.finish()
        self.connection = None


_loop_connection: _LoopConnection | None = None


@contextlib.asynccontextmanager
async def loop_connection() -> AsyncIterator[Any]:
    """The event loop's own connection to the default database, for the few statements on a
    websocket's hot path worth running without leaving the loop (a thread hop and Django's
    cursor machinery cost more than the statement itself). Plain SQL in a transaction of
    the caller's, no ORM, no on_commit; one statement at a time per process, which is what
    `database_sync_to_async`'s single thread allows too. Everything else goes through the
    services and Django's connections. A connection that fails is dropped and made anew
    on next use."""
    import psycopg

    global _loop_connection
    loop_id = id(asyncio.get_running_loop())
    if _loop_connection is None or _loop_connection.loop_id != loop_id:
        if _loop_connection is not None:
            _loop_connection.close()
        _loop_connection = _LoopConnection(loop_id)
    holder = _loop_connection
    async with holder.lock:
        if holder.connection is None or holder.connection.closed:
            params = connections["default"].get_connection_params()
            kwargs = {name: params[name] for name in ("dbname", "user", "password", "host", "port",
                                                      "connect_timeout", "sslmode") if params.get(name)}
            holder.connection = await psycopg.AsyncConnection.connect(autocommit=True, **kwargs)
        try:
            yield holder.connection
        except psycopg.OperationalError:
            holder.close()
            raise


def loop_connection_close() -> None:
    """Close the event loop's connection (tests, before their database is dropped)."""
    if _loop_connection is not None:
        _loop_connection.close()
