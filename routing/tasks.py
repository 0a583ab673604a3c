"""Celery tasks for routing: thin and idempotent."""

from __future__ import annotations

from celery import shared_task

from routing import services


@shared_task(name="routing.tasks.routing_sweep", ignore_result=True)
def routing_sweep() -> dict[str, int]:
    """Expire offers and silent agents, escalate, re-run the match. Safe to overlap: every
    step takes rows with SKIP LOCKED and re-checks their state."""
    return services.routing_sweep()
