"""Celery tasks for routing: thin and idempotent."""

from __future__ import annotations

import logging

from celery import shared_task

from routing import services

log = logging.getLogger(__name__)


@shared_task(name="routing.tasks.routing_sweep", ignore_result=True)
def routing_sweep() -> dict[str, int]:
    """Expire offers and silent agents, escalate, re-run the match. Safe to overlap: every
    step takes rows with SKIP LOCKED and re-checks their state."""
    counts = services.routing_sweep()
    if any(counts.values()):
        log.info("Routing sweep: %s", ", ".join(f"{name} {n}" for name, n in counts.items() if n))
    return counts
