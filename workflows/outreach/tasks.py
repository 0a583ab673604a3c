"""Celery tasks for outreach: thin and idempotent, each calling one service."""

from __future__ import annotations

import logging

from celery import shared_task

from workflows.outreach import services

log = logging.getLogger(__name__)


@shared_task(name="workflows.outreach.tasks.campaign_send", ignore_result=True)
def campaign_send(campaign_id: int) -> int:
    """Send the campaign's next batch, then queue the next one at the rate's interval. A
    duplicate or early task sends nothing (the batch's slot is claimed in the database) and
    queues nothing, so the chain never forks."""
    result = services.campaign_send_batch(campaign_id=campaign_id)
    if result.claimed and result.next_in_seconds is not None:
        campaign_send_enqueue(campaign_id, countdown=result.next_in_seconds)
    return result.sent


def campaign_send_enqueue(campaign_id: int, *, countdown: float) -> None:
    """Queue a batch (after commit). If the broker does not answer, the beat's sweep
    (campaigns_resume) sends the campaign on once its batch is overdue."""
    try:
        campaign_send.apply_async((campaign_id,), countdown=max(0.0, countdown))
    except Exception:
        log.warning("Could not queue campaign %s's next batch; the sweep will", campaign_id, exc_info=True)


@shared_task(name="workflows.outreach.tasks.campaigns_resume", ignore_result=True)
def campaigns_resume() -> int:
    """Beat: campaigns whose next batch is overdue (their task was lost) are sent on."""
    stalled = services.campaigns_stalled()
    for campaign_id in stalled:
        campaign_send_enqueue(campaign_id, countdown=0)
    return len(stalled)
