"""The outbox: what a producer's transaction tells the layers above it, drained without gaps.

A producer (routing's history, later the timeline, ...) writes its rows through
`outbox_bulk_create`, which in the same statement, so in the same transaction, writes one
`OutboxEntry` per consumer of its stream that wants the row. Each consumer drains its own
entries with `outbox_drain`: a batch locked with `FOR UPDATE SKIP LOCKED`, handled, and
deleted in one transaction with the consumer's own writes. So

- an event whose transaction commits late is drained when it commits (no watermark, no
  gaps that expire);
- two drainers of one consumer never take the same entry, and a crash rolls the consumer's
  writes back with the deletes: nothing is lost and nothing is applied twice;
- an entry whose handling keeps failing is tried alone, counted, and parked after
  `OUTBOX_MAX_ATTEMPTS` with its error (visible in the admin, retried from there), while
  the rest of the stream flows.

Why one row per (consumer, event) rather than an `exported_at` column on each producer's
table or a position per consumer: several consumers will read one stream (the timeline
copy, workflows, report rollups, outbound webhooks), each at its own pace and with its own
failures; a position has the gap problem this replaces, and a column serves one consumer.

Consumers register by name at start-up (their app's `ready()`), so a lower layer writes
entries for consumers above it without importing them. A consumer registered later gets
entries for events written from then on only (backfill it with a data migration).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation
from django.db import IntegrityError, connection, models, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from supportdesk.models import OutboxEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumer:
    name: str
    stream: str
    # Applies the producer's rows with these ids, inside the drain's transaction. It may be
    # called again with an id it was given before only if that call raised (rolled back).
    handle: Callable[[list[int]], None]
    # Which of the producer's rows it needs at all (None: every row); the others get no entry.
    wants: Callable[[models.Model], bool] | None = None
    # Called after a transaction that wrote entries for it commits (once per transaction), to
    # have them drained now rather than on the next beat; it must not raise, and may do
    # nothing (the beat's drain is the safety net).
    kick: Callable[[], None] | None = None
    # Called with the row's id and the last error when its entry is parked (in the drain's
    # transaction; it must not raise), so the consumer can tell the people waiting on it
    # (a reply shown "not sent yet"); None: nothing to tell.
    on_park: Callable[[int, str], None] | None = None


_consumers: dict[str, Consumer] = {}
BULK_CHUNK = 1000  # rows a statement


def consumer_register(*, name: str, stream: str, handle: Callable[[list[int]], None],
                      wants: Callable[[models.Model], bool] | None = None,
                      kick: Callable[[], None] | None = None,
                      on_park: Callable[[int, str], None] | None = None) -> None:
    """Subscribe `name` to `stream` (idempotent: a second registration replaces the first)."""
    _consumers[name] = Consumer(name=name, stream=stream, handle=handle, wants=wants, kick=kick,
                                on_park=on_park)


def outbox_kick(consumer_names: Iterable[str]) -> None:
    """After the current transaction commits (now, outside one), kick these consumers: the
    producers call it when they wrote entries for them. Once per transaction and consumer."""
    for name in set(consumer_names):
        consumer = _consumers.get(name)
        if consumer is None or consumer.kick is None:
            continue
        if not connection.in_atomic_block:
            consumer.kick()
        elif not any(func is consumer.kick for _ids, func, _robust in connection.run_on_commit):
            transaction.on_commit(consumer.kick, robust=True)


def consumer_names() -> list[str]:
    return sorted(_consumers)


def consumers_of(stream: str) -> list[Consumer]:
    return sorted((c for c in _consumers.values() if c.stream == stream), key=lambda c: c.name)


def outbox_wanting(obj: models.Model, *, stream: str) -> list[str]:
    """The consumers of `stream` that want this (new, unsaved) row, by name: for producers
    that write their entries themselves, in their own statement (the chat's hot path)."""
    return [consumer.name for consumer in consumers_of(stream) if consumer.wants is None or consumer.wants(obj)]


async def outbox_wanting_async(obj: models.Model, *, stream: str) -> list[str]:
    """`outbox_wanting` from the event loop. Consumers answer `wants` from a cache in the
    process; when one must refresh it from the database (Django refuses that on the loop),
    the question is asked again in a thread, so only that call takes the thread hop."""
    try:
        return outbox_wanting(obj, stream=stream)
    except SynchronousOnlyOperation:
        return await database_sync_to_async(outbox_wanting)(obj, stream=stream)


def outbox_bulk_create(objs: Sequence[models.Model], *, stream: str) -> None:
    """Insert `objs` (new rows of one model) and their outbox entries in one statement.

    One round trip, as a plain bulk_create would be: producers call this on hot paths
    (routing's decisions). The objects get their primary keys, as with bulk_create; the
    model's key must come from a sequence (an AutoField), whose order matches the rows'.
    """
    if len(objs) > BULK_CHUNK:  # PostgreSQL takes at most 65,535 parameters a statement
        for start in range(0, len(objs), BULK_CHUNK):
            outbox_bulk_create(objs[start:start + BULK_CHUNK], stream=stream)
        return
    if not objs:
        return
    model = type(objs[0])
    if not isinstance(model._meta.pk, models.AutoField):
        raise TypeError(f"{model.__name__} needs an auto-increment primary key to have an outbox.")
    consumers = consumers_of(stream)
    wanted = [(position, consumer.name) for position, obj in enumerate(objs, start=1)
              for consumer in consumers if consumer.wants is None or consumer.wants(obj)]
    if not wanted:
        model.objects.bulk_create(objs)
        return
    ids = _insert_with_entries(objs, stream=stream, wanted=wanted)
    for obj, row_id in zip(objs, ids, strict=True):
        obj.pk = row_id
        obj._state.adding = False
        obj._state.db = connection.alias


def _insert_with_entries(objs: Sequence[models.Model], *, stream: str, wanted: Sequence[tuple[int, str]],
                         ignore_conflicts: bool = False) -> list[int]:
    """INSERT the rows and, in the same statement, an entry per (position of a row, consumer) in
    `wanted`; the new rows' ids in their order. With `ignore_conflicts`, a row that conflicts with
    one stored is left out (ON CONFLICT DO NOTHING), with its entries, and so are its id."""
    model = type(objs[0])
    quote = connection.ops.quote_name
    pk = model._meta.pk
    fields = [field for field in model._meta.concrete_fields if field is not pk]
    # The INSERT as bulk_create writes it: for many rows an INSERT ... SELECT FROM UNNEST of one
    # array a column, a short statement whatever the rows (a VALUES list of thousands of
    # placeholders costs psycopg and the planner more than the insert).
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [pk]
    [(insert, params)] = compiler.as_sql()
    positions, names = zip(*wanted, strict=True) if wanted else ((), ())
    # Ids come from the sequence in the rows' order, so the n-th smallest id is the n-th object.
    sql = f"""
        WITH inserted (id) AS (
            {insert}
        ), numbered AS (
            SELECT id, row_number() OVER (ORDER BY id) AS position FROM inserted
        ), entries AS (
            INSERT INTO {quote(OutboxEntry._meta.db_table)} (stream, consumer, ref_id)
            SELECT %s, wanted.consumer, numbered.id
              FROM numbered JOIN unnest(%s::bigint[], %s::text[]) AS wanted(position, consumer)
                USING (position)
             ORDER BY numbered.id, wanted.consumer
        )
        SELECT id FROM numbered ORDER BY position
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, stream, list(positions), list(names)])
        ids = [row_id for (row_id,) in cursor.fetchall()]
    if ids:
        outbox_kick(names)
    return ids


@dataclass(frozen=True)
class Drained:
    handled: int = 0  # entries applied and deleted
    failed: int = 0  # entries that raised this time (counted, kept or parked)
    parked: int = 0  # of which parked now, for a person to look at


def outbox_drain(*, consumer: str, batch_size: int = 500) -> Drained:
    """Apply and delete the oldest `batch_size` entries of `consumer` that no other drainer
    holds, in one transaction with what the consumer writes."""
    registered = _consumers.get(consumer)
    if registered is None:
        raise LookupError(f"No outbox consumer is registered as {consumer!r}.")
    entries = OutboxEntry.objects.select_for_update(skip_locked=True)
    with transaction.atomic():
        batch = list(entries.filter(consumer=consumer, parked_at__isnull=True)
                     .order_by("id").values_list("id", "ref_id", "attempts")[:batch_size])
        if not batch:
            return Drained()
        errors: dict[int, str] = {}
        try:
            with transaction.atomic():
                registered.handle([ref_id for _, ref_id, _ in batch])
        except Exception as batch_error:
            if len(batch) == 1:  # nothing to tell apart; and a send to a provider is not made twice
                entry_id, ref_id, _ = batch[0]
                log.warning("Outbox consumer %s failed on %s %s", consumer, registered.stream, ref_id,
                            exc_info=True)
                errors[entry_id] = f"{type(batch_error).__name__}: {batch_error}"[:2000]
            # One bad entry must not hold back the rest: each is tried alone to find it.
            for entry_id, ref_id, _ in batch if len(batch) > 1 else []:
                try:
                    with transaction.atomic():
                        registered.handle([ref_id])
                except Exception as exc:
                    log.warning("Outbox consumer %s failed on %s %s", consumer, registered.stream,
                                ref_id, exc_info=True)
                    errors[entry_id] = f"{type(exc).__name__}: {exc}"[:2000]
        OutboxEntry.objects.filter(pk__in=[entry_id for entry_id, _, _ in batch
                                           if entry_id not in errors]).delete()
        parked = 0
        now = timezone.now()
        for entry_id, ref_id, attempts in batch:
            if entry_id not in errors:
                continue
            park = attempts + 1 >= settings.OUTBOX_MAX_ATTEMPTS
            if park:
                parked += 1
                log.error("Outbox consumer %s parked %s %s after %s attempts: %s", consumer,
                          registered.stream, ref_id, attempts + 1, errors[entry_id])
            OutboxEntry.objects.filter(pk=entry_id).update(
                attempts=attempts + 1, last_error=errors[entry_id], parked_at=now if park else None)
            if park and registered.on_park is not None:
                _parked_tell(registered, ref_id, errors[entry_id])
    return Drained(handled=len(batch) - len(errors), failed=len(errors), parked=parked)


def _parked_tell(registered: Consumer, ref_id: int, error: str) -> None:
    try:
        with transaction.atomic():
            registered.on_park(ref_id, error)
    except Exception:
        log.exception("Outbox consumer %s could not be told that %s %s was parked", registered.name,
                      registered.stream, ref_id)


def outbox_retry(*, entry_ids: Sequence[int]) -> int:
    """Put parked entries back in their consumer's stream (after the cause was fixed); the
    number put back. Entries not parked are left as they are."""
    return OutboxEntry.objects.filter(pk__in=list(entry_ids), parked_at__isnull=False).update(
        parked_at=None, attempts=0, last_error="")


def outbox_discard(*, entry_ids: Sequence[int]) -> int:
    """Give up on parked entries: their consumer never applies them (the producer's own rows
    stay). The number discarded; entries still in the stream are left alone."""
    deleted, _ = OutboxEntry.objects.filter(pk__in=list(entry_ids), parked_at__isnull=False).delete()
    return deleted


def outbox_drain_batches(*, consumer: str, batches: int, batch_size: int) -> int:
    """Drain `consumer` a batch at a time until a batch comes back short (or `batches` ran);
    the entries handled."""
    done = 0
    for _batch in range(batches):
        drained = outbox_drain(consumer=consumer, batch_size=batch_size)
        done += drained.handled
        if drained.handled + drained.failed < batch_size:
            break
    return done


def outbox_drain_singly(*, consumer: str, batches: int = 50) -> int:
    """Drain `consumer` one entry a transaction (for consumers with side effects outside the
    database, where a retried batch would repeat the others' effects); the entries handled."""
    done = 0
    for _batch in range(batches):
        drained = outbox_drain(consumer=consumer, batch_size=1)
        done += drained.handled
        if drained.handled == 0:
            break
    return done


def outbox_create_once(obj: models.Model, *, stream: str, key_field: str = "key") -> tuple[int, bool]:
    """Insert a row unique by `key_field` with its outbox entries, unless one with that key is
    stored already (a provider's retry): (its id, whether it was there before).

    One statement, INSERT ... ON CONFLICT DO NOTHING with the entries (the webhooks' hot path: in
    autocommit it needs no BEGIN and COMMIT either); a duplicate reads the stored row's id with a
    second. The same delivery stored at the same moment by another request waits for that one's
    commit and is then a duplicate."""
    model = type(obj)
    if not isinstance(model._meta.pk, models.AutoField):
        raise TypeError(f"{model.__name__} needs an auto-increment primary key to have an outbox.")
    wanted = [(1, name) for name in outbox_wanting(obj, stream=stream)]
    inserted = _insert_with_entries([obj], stream=stream, wanted=wanted, ignore_conflicts=True)
    if inserted:
        obj.pk = inserted[0]
        obj._state.adding = False
        obj._state.db = connection.alias
        return obj.pk, False
    existing = model.objects.filter(**{key_field: getattr(obj, key_field)}).values_list("pk", flat=True).first()
    if existing is None:  # the conflict was on another unique constraint: not a retry of this one
        raise IntegrityError(f"{model.__name__} was not stored, and none is stored with its {key_field}.")
    return existing, True
