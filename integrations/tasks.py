"""Celery tasks for integrations: thin, idempotent, each calling one service."""

from __future__ import annotations

import logging

from celery import shared_task

from integrations import email_inbound, services
from integrations.whatsapp import inbound as whatsapp_inbound

log = logging.getLogger(__name__)


@shared_task(
    name="integrations.tasks.oms_events_drain",
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def oms_events_drain(batch_size: int = 100) -> int:
    """Process every pending OMS event. Safe to run any number of times, in parallel. Batches
    of 100: the reactions to a batch (workflow triggers) start when it commits, so a smaller
    one is acted on sooner (200 gave a trigger's p99 about 2 s under the workflows benchmark's
    long wave, 100 about 1.3 s)."""
    return services.oms_events_drain(batch_size=batch_size)


@shared_task(name="integrations.tasks.email_inbound_drain", ignore_result=True)
def email_inbound_drain() -> int:
    """Turn the stored inbound emails into messages (idempotent: the outbox hands each out once)."""
    return email_inbound.inbound_emails_drain()


def email_inbound_enqueue() -> None:
    """After an email is stored: process it now. If the broker does not answer, beat's drain
    does a few seconds later; the email is stored either way."""
    try:
        email_inbound_drain.delay()
    except Exception:
        log.warning("Could not queue the inbound email drain; beat's will run it", exc_info=True)


@shared_task(name="integrations.tasks.whatsapp_drain", ignore_result=True)
def whatsapp_drain() -> int:
    """Apply the stored WhatsApp webhook posts (idempotent: the outbox hands each out once)."""
    return whatsapp_inbound.whatsapp_drain()


def whatsapp_enqueue() -> None:
    try:
        whatsapp_drain.delay()
    except Exception:
        log.warning("Could not queue the WhatsApp drain; beat's will run it", exc_info=True)
