"""Celery tasks for integrations: thin, idempotent, each calling one service."""

from __future__ import annotations

from celery import shared_task

from integrations import services


@shared_task(
    name="integrations.tasks.oms_events_drain",
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def oms_events_drain(batch_size: int = 200) -> int:
    """Process every pending OMS event. Safe to run any number of times, in parallel."""
    return services.oms_events_drain(batch_size=batch_size)
