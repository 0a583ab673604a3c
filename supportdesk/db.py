"""Database helpers the apps share."""

from __future__ import annotations

import asyncio
import contextlib
import select
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any

from django.conf import settings
from django.db import connections, models


def pg_int_array(values: Sequence[int | None]) -> str:
    """A PostgreSQL array literal of integers ('{1,2}', None as NULL), for a parameter cast
    `::bigint[]`: psycopg dumps a list element by element in Python (about 5 times slower for
    the 20,000 ids of a schedule's chunk); also a text per row where an array of arrays cannot
    be unnested row by row."""
    return "{" + ",".join("NULL" if value is None else str(int(value)) for value in values) + "}"


def pg_text_array(values: Sequence[str]) -> str:
    """A PostgreSQL array literal of texts ('{"a","b"}'), for a parameter cast `::text[]`
    (every element quoted, so empty strings, commas, braces and NULL stay texts)."""
    return "{" + ",".join('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values) + "}"


class InArray(models.Lookup):
    """`field__in_array=ids`: `field = ANY(%s::bigint[])`, the ids one array literal
    (pg_int_array), where `__in` writes a placeholder per id. psycopg splits a query on its
    placeholders in Python at every execution, which for the thousands of ids of a drain's
    batch costs more than PostgreSQL's work. Integer fields and foreign keys
    (SupportdeskConfig.ready registers it)."""

    lookup_name = "in_array"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[str]]:
        return "%s", [pg_int_array(list(value))]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs}::bigint[])", [*lhs_params, *rhs_params]


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


# --- connections outside Django's -------------------------------------------------------------------


def libpq_params(alias: str = "default") -> dict[str, Any]:
    """The parameters Django connects to `alias` with (timeouts included), as plain libpq
    keywords, for the connections opened beside Django's: the event loop's pool and /readyz.
    Django's own extras (its cursor class, adapters, prepared-statement switch) are left out."""
    params = connections[alias].get_connection_params()
    return {name: value for name, value in params.items()
            if name not in {"cursor_factory", "context", "prepare_threshold"}}


# --- the event loop's own pool ------------------------------------------------------------------------


async def connection_check(connection: Any) -> None:
    """The pool's check of a connection before it hands it out: raise if it is dead.

    An idle connection has nothing to read. A server that ended it (a restart, an
    administrator's pg_terminate_backend) sent its goodbye and closed the socket, which a
    poll of the socket sees at once; only then, or with anything else waiting to be read,
    does the check ask the server (psycopg_pool's check_connection, an empty statement).
    Asking every time cost a round trip per chat message, this pool's hot path."""
    from psycopg import OperationalError
    from psycopg_pool import AsyncConnectionPool

    if connection.closed or connection.broken:
        raise OperationalError("the connection is closed")
    poll = select.poll()  # not select.select: a server's descriptors go past its 1,024
    poll.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poll.poll(0):
        await AsyncConnectionPool.check_connection(connection)


class _LoopPool:
    """psycopg's AsyncConnectionPool for one event loop, each connection checked before use.

    The pool belongs to the loop that opened it; a test's loop may be closed before the pool
    is, so the connections it made are tracked to be closed without awaiting anything.

    The pool is closed, in its loop, when the loop's tasks are cancelled as it ends (what
    asyncio.run and asgiref's async_to_sync do). Left open, it would hang that end forever:
    the pool's worker tasks catch a CancelledError that lands while they are connecting (the
    pool growing, or replacing a dead connection), log "error connecting", and go back to
    waiting for work; only the pool's close() stops them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.loop = loop
        self.opened: weakref.WeakSet[Any] = weakref.WeakSet()
        self._closer: asyncio.Task[None] | None = None
        self.pool = AsyncConnectionPool(
            kwargs={**libpq_params(), "autocommit": True},
            min_size=1, max_size=settings.DATABASE_LOOP_POOL_MAX_SIZE,
            timeout=settings.DATABASE_POOL_TIMEOUT,
            check=connection_check,  # none dead after a PostgreSQL restart
            configure=self._configure, name="event-loop", open=False,
        )

    async def _configure(self, connection: Any) -> None:
        self.opened.add(connection)

    async def open(self) -> None:
        """Open the pool (once) and arrange for it to be closed when its loop ends."""
        if self._closer is None:
            self._closer = self.loop.create_task(self._close_with_the_loop(), name="event-loop-pool-closer")
        await self.pool.open(wait=False)

    async def _close_with_the_loop(self) -> None:
        try:
            await asyncio.Event().wait()  # until the loop's end cancels it
        finally:
            # Stops the workers and the scheduler even if they swallowed their own cancellation;
            # bounded, and a CancelledError of the workers it gathers ends only this clean-up.
            with contextlib.suppress(asyncio.CancelledError):
                await self.pool.close(timeout=settings.DATABASE_POOL_TIMEOUT)
            self.close()

    def close(self) -> None:
        # Synchronous on purpose: the loop that opened them may be gone (a test's, a restart's).
        for connection in list(self.opened):
            if not connection.closed:
                connection.pgconn.finish()
        self.opened.clear()


_loop_pool: _LoopPool | None = None


@contextlib.asynccontextmanager
async def loop_connection() -> AsyncIterator[Any]:
    """A connection of the event loop's own pool to the default database, for the few
    statements on a websocket's hot path worth running without leaving the loop (a thread
    hop and Django's cursor machinery cost more than the statement itself). Plain SQL in a
    transaction of the caller's, no ORM, no on_commit. A pool, not one connection: a
    statement waiting on one conversation's row lock holds up no other conversation's.
    Everything else goes through the services and Django's connections.

    While PostgreSQL cannot be reached this raises psycopg's OperationalError (a pool
    timeout after DATABASE_POOL_TIMEOUT seconds), which the consumers answer with an
    "unavailable" error frame."""
    global _loop_pool
    loop = asyncio.get_running_loop()
    if _loop_pool is None or _loop_pool.loop is not loop:
        if _loop_pool is not None:
            _loop_pool.close()
        _loop_pool = _LoopPool(loop)
    holder = _loop_pool
    await holder.open()
    async with holder.pool.connection() as connection:
        yield connection


def loop_connection_close() -> None:
    """Close the event loop's connections (tests, before their database is dropped)."""
    global _loop_pool
    if _loop_pool is not None:
        _loop_pool.close()
        _loop_pool = None
