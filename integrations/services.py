"""OMS webhook intake and processing.

Intake (`oms_webhook_receive`) does as little as it can: check the signature, validate,
store the raw event once (the OMS's event id is unique), and ask for a drain. Processing
(`oms_events_drain`) claims stored events with row locks that skip what another worker
holds, applies each in a savepoint, and marks it processed in the same transaction, so a
crash leaves it pending and a worker that was down catches up from the table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DataError, connection, transaction
from django.db.models import F
from django.utils import timezone

from integrations.models import OmsEvent, OmsEventStatus
from integrations.oms import schema, signature
from supportdesk import advisory_locks, backpressure
from supportdesk.db import rows_update
from supportdesk.redis import get_redis, redis_key
from timeline import services as timeline_services
from timeline.models import Order

logger = logging.getLogger(__name__)

DRAIN_DEBOUNCE_MS = 200
_drain_window_ends = 0.0  # time.monotonic() until which this process need not ask again
MAX_ATTEMPTS = 5


class PayloadTooLarge(Exception):
    pass


@dataclass(frozen=True)
class ReceiveResult:
    event_id: str
    duplicate: bool


def oms_webhook_receive(
    *, body: bytes, timestamp: str | None, signature_header: str | None
) -> ReceiveResult:
    """Verify, validate and store one webhook delivery. Raises SignatureError,
    PayloadTooLarge or schema.OmsPayloadError for the caller to turn into 401/413/400."""
    if len(body) > settings.OMS_WEBHOOK_MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"Body is {len(body)} bytes; the limit is {settings.OMS_WEBHOOK_MAX_BODY_BYTES}."
        )
    signature.verify(
        secret=settings.OMS_WEBHOOK_SECRET, timestamp=timestamp, signature=signature_header,
        body=body, tolerance_seconds=settings.OMS_WEBHOOK_TOLERANCE_SECONDS,
    )
    event = schema.parse_event(body)
    inserted = _store(event, body)
    if inserted:
        transaction.on_commit(oms_drain_request)
    return ReceiveResult(event_id=event.event_id, duplicate=not inserted)


def _store(event: schema.OmsEventData, body: bytes) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: one round trip, and it tells a duplicate apart."""
    table = connection.ops.quote_name(OmsEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, event_type, occurred_at, payload, received_at, "
            "status, attempts, last_error) VALUES (%s, %s, %s, %s::jsonb, %s, %s, 0, '') "
            "ON CONFLICT (event_id) DO NOTHING RETURNING id",
            [event.event_id, event.event_type, event.occurred_at, body.decode(),
             timezone.now(), OmsEventStatus.PENDING],
        )
        return cursor.fetchone() is not None


def drain_debounce_key() -> str:
    # Under the deployment's prefix: another desk's drain on the same Redis is not ours.
    return redis_key("integrations", "oms", "drain-requested")


def oms_drain_request() -> None:
    """Ask a worker to drain, at most once per debounce window.

    The first event of a window schedules a drain to run just after the window closes, so
    every event committed inside the window is visible to it, and the first event after
    the window schedules the next one: no event waits for the beat sweeper. A failure here
    loses nothing either: the event is stored and the beat-scheduled drain picks it up.
    """
    from integrations.tasks import oms_events_drain  # the task module imports this one

    global _drain_window_ends
    # Inside a window whose drain is already asked for (it runs after the window closes,
    # so it sees this event), skip Redis: only a few deliveries a second go there.
    now = time.monotonic()
    if now < _drain_window_ends:
        return
    try:
        redis = get_redis()
        if redis.set(drain_debounce_key(), 1, nx=True, px=DRAIN_DEBOUNCE_MS):
            _drain_window_ends = now + DRAIN_DEBOUNCE_MS / 1000
            oms_events_drain.apply_async(countdown=(DRAIN_DEBOUNCE_MS + 50) / 1000)
        else:
            # Another process opened the window; trust it for as long as it has left.
            remaining_ms = redis.pttl(drain_debounce_key())
            if remaining_ms > 0:
                _drain_window_ends = now + remaining_ms / 1000
    except Exception:  # broker trouble must not fail an event that is already stored
        logger.warning("Could not enqueue the OMS drain; the beat sweeper will pick it up",
                       exc_info=True)


def oms_event_process(*, event: OmsEvent) -> None:
    """Apply one stored event to contacts and orders (idempotent given the event status):
    a batch of one, so both paths lock rows the same way (`timeline.locks`)."""
    timeline_services.mirror_batch(batch=[_mirrored(schema.parse_envelope(event.payload))])


def oms_events_drain(*, batch_size: int = 200, max_events: int | None = None) -> int:
    """Process pending events, oldest first, until none is left (or `max_events`).

    One drainer works at a time: each batch transaction first takes a PostgreSQL advisory
    lock (released with the transaction, so a drainer that dies cannot keep it), because
    parallel drainers would only queue on the same customers' rows and deadlock on them. A
    drain that finds the lock taken returns at once; the drainer holding it looks for
    pending events once more when its loop ends, so an event whose drain request was
    turned away is not left behind. A drain hands over to a fresh one after
    DRAIN_MAX_SECONDS, so events a transient error left pending are tried again even
    while traffic never stops.
    """
    processed = 0
    # Events a transient error left pending: not tried again in this drain (the next one will).
    left_pending: set[int] = set()
    deadline = time.monotonic() + DRAIN_MAX_SECONDS
    while max_events is None or processed < max_events:
        done, busy = _drain_batches(
            batch_size=batch_size, left_pending=left_pending, deadline=deadline,
            limit=None if max_events is None else max_events - processed,
        )
        processed += done
        if busy or not _pending_exists(exclude=left_pending):
            break
        if time.monotonic() >= deadline:
            _drain_enqueue()
            break
    return processed


DRAIN_LOCK_KEY = advisory_locks.OMS_DRAIN
DRAIN_MAX_SECONDS = 30.0


def _drain_enqueue() -> None:
    from integrations.tasks import oms_events_drain as task  # the task module imports this one

    try:
        task.apply_async()
    except Exception:  # noqa: BLE001  (the beat sweep starts the next drain anyway)
        logger.warning("Could not enqueue the next OMS drain; beat will", exc_info=True)


def _drain_lock_take() -> bool:
    """Take the drainers' lock for the current transaction; False if another drainer has it,
    or is giving way (`_give_way`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s) AND pg_try_advisory_xact_lock(%s)",
                       [DRAIN_LOCK_KEY, advisory_locks.OMS_DRAIN_GIVING_WAY])
        return cursor.fetchone()[0]


def _give_way() -> bool:
    """Between two batches: while the reactions to what the drain wrote (workflow triggers,
    timers) are behind, wait a moment for them (supportdesk.backpressure), so they follow
    within seconds instead of behind the whole backlog. Meanwhile no other drainer starts a
    batch (it leaves at once: `_drain_lock_take`), so a burst of drain requests does not fill
    the worker with waiting drainers. False if another drainer is giving way already."""
    if not backpressure.behind() or not _pending_exists(exclude=set()):
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [advisory_locks.OMS_DRAIN_GIVING_WAY])
        if not cursor.fetchone()[0]:
            return False
        try:
            backpressure.give_way()
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [advisory_locks.OMS_DRAIN_GIVING_WAY])
    return True


def _pending_exists(*, exclude: set[int]) -> bool:
    return OmsEvent.objects.filter(status=OmsEventStatus.PENDING).exclude(pk__in=exclude).exists()


def _drain_batches(
    *, batch_size: int, left_pending: set[int], deadline: float, limit: int | None
) -> tuple[int, bool]:
    """Process batches until none is left, the deadline or the limit. Returns how many
    events were processed and whether another drainer holds the lock."""
    processed = 0
    more = False  # the last batch was full: more are likely waiting
    while (limit is None or processed < limit) and time.monotonic() < deadline:
        if more and not _give_way():
            return processed, True
        with transaction.atomic():
            if not _drain_lock_take():
                return processed, True
            batch, set_aside = _batch_claim(batch_size=batch_size, left_pending=left_pending)
            if not batch and not set_aside:
                break
            if batch and not _process_together(batch):
                for event in batch:
                    _process_one(event)
            rows_update(batch, ["status", "attempts", "last_error", "processed_at"])
        left_pending.update(e.pk for e in batch if e.status == OmsEventStatus.PENDING)
        processed += len(batch) + set_aside
        more = len(batch) + set_aside >= batch_size
    return processed, False


# What reading a stored row back can raise because of the row's own values: a time
# PostgreSQL holds and Python cannot (year 0, year 10000), a payload nested deeper than
# Python's parser goes. Anything else (a lost connection) is not the row's fault.
_UNREADABLE_ROW_ERRORS = (DataError, ValueError, OverflowError, RecursionError)


def _batch_claim(*, batch_size: int, left_pending: set[int]) -> tuple[list[OmsEvent], int]:
    """Lock and read the next pending events. A row that cannot be read back is set aside
    as failed, with the reason, so it never stops the drain nor comes round again; the
    admin shows it (see integrations.admin) for a person to retry or discard. Returns the
    events read and how many were set aside."""
    pending = (OmsEvent.objects.select_for_update(skip_locked=True)
               .filter(status=OmsEventStatus.PENDING).exclude(pk__in=left_pending)
               .order_by("received_at", "id"))
    try:
        with transaction.atomic():
            return list(pending[:batch_size]), 0
    except _UNREADABLE_ROW_ERRORS:
        logger.warning("A pending OMS event cannot be read back; reading the batch row by row")
    batch, set_aside = [], 0
    for pk in list(pending.values_list("pk", flat=True)[:batch_size]):
        try:
            with transaction.atomic():
                batch.append(OmsEvent.objects.get(pk=pk))
        except _UNREADABLE_ROW_ERRORS as exc:
            OmsEvent.objects.filter(pk=pk).update(
                status=OmsEventStatus.FAILED, attempts=F("attempts") + 1,
                last_error=f"The stored event cannot be read back: {type(exc).__name__}: {exc}"[:2000],
            )
            logger.error("OMS event row %s cannot be read back; set aside as failed: %s", pk, exc)
            set_aside += 1
    return batch, set_aside


def _process_together(batch: list[OmsEvent]) -> bool:
    """Apply the whole batch in one go (`timeline.services.mirror_batch`). False, with
    nothing changed, when any event in it fails: the caller then goes event by event, so
    one bad event cannot hold the others back."""
    mirrored = []
    for event in batch:
        try:
            mirrored.append(_mirrored(schema.parse_envelope(event.payload)))
        except schema.OmsPayloadError:
            return False
    try:
        with transaction.atomic():
            timeline_services.mirror_batch(batch=mirrored)
    except Exception:  # noqa: BLE001  (each event is tried again on its own, and logged there)
        logger.info("A batch of %d OMS events failed together; applying them one by one",
                    len(batch), exc_info=True)
        return False
    now = timezone.now()
    for event in batch:
        event.attempts += 1
        event.status = OmsEventStatus.PROCESSED
        event.processed_at = now
        event.last_error = ""
    return True


def _mirrored(data: schema.OmsEventData) -> timeline_services.MirroredEvent:
    order = None
    if data.order is not None:
        order = timeline_services.MirroredOrder(
            external_id=data.order.external_id, fields=dict(data.order.fields),
            parties={name: (party.kind, party.external_id)
                     for name, party in data.order.parties.items()},
        )
    return timeline_services.MirroredEvent(
        source_event_id=data.event_id, occurred_at=data.occurred_at, order=order,
        contacts=[timeline_services.MirroredContact(kind=c.kind, external_id=c.external_id,
                                                    fields=dict(c.fields))
                  for c in data.contacts],
    )


def _process_one(event: OmsEvent) -> None:
    """Apply one event in a savepoint of its own, its customers' totals included, so
    whatever fails, fails for this event alone."""
    event.attempts += 1
    try:
        with transaction.atomic():
            oms_event_process(event=event)
    except (schema.OmsPayloadError, ValueError, Order.DoesNotExist) as exc:
        # The event itself is wrong: trying again cannot help.
        event.status = OmsEventStatus.FAILED
        event.last_error = str(exc)
        logger.error("OMS event %s failed: %s", event.event_id, exc)
    except Exception as exc:  # noqa: BLE001
        # A deadlock, a lost connection or a bug: leave it pending for the next drain, and
        # give up (failed, visible in the admin) after MAX_ATTEMPTS.
        event.last_error = f"{type(exc).__name__}: {exc}"
        if event.attempts >= MAX_ATTEMPTS:
            event.status = OmsEventStatus.FAILED
        logger.warning("OMS event %s will be retried: %s", event.event_id, exc)
    else:
        event.status = OmsEventStatus.PROCESSED
        event.processed_at = timezone.now()
        event.last_error = ""


def oms_events_retry(*, event_ids: list[str]) -> int:
    """Put failed or discarded events (by the OMS's event id) back in the queue with a fresh
    attempt budget.

    Events that were processed are left as they are, so retrying one can never apply it
    twice. `last_error` stays until the next attempt replaces or clears it. Nothing here
    reads the rows (an UPDATE by id), so it works on events whose stored values cannot be
    read back. Returns how many events were queued again.
    """
    with transaction.atomic():
        retried = OmsEvent.objects.filter(
            event_id__in=event_ids, status__in=[OmsEventStatus.FAILED, OmsEventStatus.DISCARDED]
        ).update(status=OmsEventStatus.PENDING, attempts=0)
        if retried:
            transaction.on_commit(oms_drain_request)
    return retried


def oms_events_discard(*, event_ids: list[str]) -> int:
    """Set pending or failed events aside for good: the drain never takes them again (a
    retry would). Processed events stay processed. Like the retry, an UPDATE that never reads
    the rows. Returns how many events were discarded."""
    return OmsEvent.objects.filter(
        event_id__in=event_ids, status__in=[OmsEventStatus.PENDING, OmsEventStatus.FAILED]
    ).update(status=OmsEventStatus.DISCARDED)
