"""OMS webhook intake and processing.

Intake (`oms_webhook_receive`) does as little as it can: check the signature, validate,
store the raw event once (the OMS's event id is unique), and ask for a drain. Processing
(`oms_events_drain`) claims stored events with row locks that skip what another worker
holds, applies each in a savepoint, and marks it processed in the same transaction, so a
crash leaves it pending and a worker that was down catches up from the table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from integrations.models import OmsEvent, OmsEventStatus
from integrations.oms import schema, signature
from supportdesk.redis import get_redis
from timeline import services as timeline_services
from timeline.models import Contact, Order

logger = logging.getLogger(__name__)

DRAIN_DEBOUNCE_KEY = "integrations:oms:drain-requested"
DRAIN_DEBOUNCE_MS = 200
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


def oms_drain_request() -> None:
    """Ask a worker to drain, at most once per debounce window.

    The first event of a window schedules a drain to run just after the window closes, so
    every event committed inside the window is visible to it, and the first event after
    the window schedules the next one: no event waits for the beat sweeper. A failure here
    loses nothing either: the event is stored and the beat-scheduled drain picks it up.
    """
    from integrations.tasks import oms_events_drain  # the task module imports this one

    try:
        if get_redis().set(DRAIN_DEBOUNCE_KEY, 1, nx=True, px=DRAIN_DEBOUNCE_MS):
            oms_events_drain.apply_async(countdown=(DRAIN_DEBOUNCE_MS + 50) / 1000)
    except Exception:  # broker trouble must not fail an event that is already stored
        logger.warning("Could not enqueue the OMS drain; the beat sweeper will pick it up",
                       exc_info=True)


def oms_event_process(*, event: OmsEvent) -> None:
    """Apply one stored event to contacts and orders (idempotent given the event status)."""
    data = schema.parse_envelope(event.payload)
    contacts: dict[tuple[str, str], Contact] = {}
    # Lock contacts in one fixed order (customer, courier, partner) so workers never deadlock.
    for change in sorted(data.contacts, key=lambda c: _KIND_ORDER[c.kind]):
        fields = dict(change.fields)
        if fields.get("current_order"):
            fields["current_order"] = timeline_services.order_reference(
                external_id=fields["current_order"]
            )
        contacts[(change.kind, change.external_id)] = timeline_services.contact_upsert(
            kind=change.kind, external_id=change.external_id, fields=fields,
            occurred_at=data.occurred_at,
        )
    if data.order is not None:
        fields = dict(data.order.fields)
        for name, party in data.order.parties.items():
            fields[name] = contacts[(party.kind, party.external_id)]
        timeline_services.order_upsert(
            external_id=data.order.external_id, fields=fields, occurred_at=data.occurred_at,
            source_event_id=data.event_id,
        )


_KIND_ORDER = {"customer": 0, "courier": 1, "partner": 2}


def oms_events_drain(*, batch_size: int = 200, max_events: int | None = None) -> int:
    """Process pending events, oldest first, until none is left (or `max_events`)."""
    processed = 0
    tried: set[int] = set()
    while max_events is None or processed < max_events:
        with transaction.atomic():
            batch = list(
                OmsEvent.objects.select_for_update(skip_locked=True)
                .filter(status=OmsEventStatus.PENDING)
                .exclude(pk__in=tried)
                .order_by("received_at", "id")[:batch_size]
            )
            if not batch:
                break
            for event in batch:
                tried.add(event.pk)
                _process_one(event)
            OmsEvent.objects.bulk_update(
                batch, ["status", "attempts", "last_error", "processed_at"]
            )
        processed += len(batch)
    return processed


def _process_one(event: OmsEvent) -> None:
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
    """Put failed events (by the OMS's event id) back in the queue with a fresh attempt budget.

    Events that did not fail are left as they are, so retrying a processed event can never
    apply it twice. `last_error` stays until the next attempt replaces or clears it.
    Returns how many events were queued again.
    """
    with transaction.atomic():
        retried = OmsEvent.objects.filter(
            event_id__in=event_ids, status=OmsEventStatus.FAILED
        ).update(status=OmsEventStatus.PENDING, attempts=0)
        if retried:
            transaction.on_commit(oms_drain_request)
    return retried
