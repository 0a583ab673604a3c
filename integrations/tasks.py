"""Celery tasks for integrations: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task

from integrations import email_inbound, services
from integrations.voice import inbound as voice_inbound
from integrations.whatsapp import inbound as whatsapp_inbound
from supportdesk.redis import debounced


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
    """After an email is stored: process it now (one drain for a burst). If Redis or the broker
    does not answer, beat's drain does a few seconds later; the email is stored either way."""
    debounced("integrations.email_inbound", lambda countdown: email_inbound_drain.apply_async(countdown=countdown))


@shared_task(name="integrations.tasks.whatsapp_drain", ignore_result=True)
def whatsapp_drain() -> int:
    """Apply the stored WhatsApp webhook posts (idempotent: the outbox hands each out once)."""
    return whatsapp_inbound.whatsapp_drain()


def whatsapp_enqueue() -> None:
    """After a webhook post is stored: apply it now (one drain for a burst), else beat's drain does."""
    debounced("integrations.whatsapp", lambda countdown: whatsapp_drain.apply_async(countdown=countdown))


@shared_task(name="integrations.tasks.voice_drain", ignore_result=True)
def voice_drain() -> int:
    """Apply the stored voice webhook posts (idempotent: the outbox hands each out once)."""
    return voice_inbound.voice_drain()


def voice_enqueue() -> None:
    """After a webhook post is stored: apply it now (one drain for a burst), else beat's drain does."""
    debounced("integrations.voice", lambda countdown: voice_drain.apply_async(countdown=countdown))
