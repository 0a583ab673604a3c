"""Celery tasks for satisfaction surveys: thin and idempotent, each calling one service.

Imported by workflows.surveys.surveys_ready (the app's ready()), so the worker knows them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from supportdesk import outbox
from timeline.services.ratings import contacts_ratings_refresh
from workflows.surveys import services

log = logging.getLogger(__name__)

CONSUMER = "workflows.surveys"  # the outbox consumer's name (timeline events)


@shared_task(name="workflows.surveys.tasks.surveys_on_resolutions", ignore_result=True)
def surveys_on_resolutions(batch_size: int = 500) -> int:
    """Schedule surveys for the resolutions (and withdraw them for reopenings) the timeline
    recorded since the last run: drains this consumer's outbox entries."""
    handled = 0
    while True:
        drained = outbox.outbox_drain(consumer=CONSUMER, batch_size=batch_size)
        handled += drained.handled
        if drained.handled + drained.failed < batch_size:
            return handled


@shared_task(name="workflows.surveys.tasks.survey_send", ignore_result=True,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def survey_send(survey_id: int) -> bool:
    return services.survey_send(survey_id=survey_id)


def survey_send_enqueue(survey_id: int, *, due_at: datetime) -> None:
    """Queue the send for its due time (called after commit). A broker that does not answer
    loses nothing: the beat's sweep sends every survey that is due.

    Only a send due soon is queued with its time: a task held for longer than the broker's
    visibility timeout would be handed out again and again; the sweep (every 30 s) sends
    those later ones."""
    if (due_at - timezone.now()).total_seconds() > settings.BROKER_VISIBILITY_TIMEOUT_SECONDS / 2:
        return
    try:
        survey_send.apply_async((survey_id,), eta=max(due_at, timezone.now()))
    except Exception:
        log.warning("Could not queue survey %s; the sweep will send it", survey_id, exc_info=True)


@shared_task(name="workflows.surveys.tasks.surveys_send_due", ignore_result=True)
def surveys_send_due() -> int:
    return services.surveys_send_due()


@shared_task(name="workflows.surveys.tasks.contacts_ratings_age", ignore_result=True)
def contacts_ratings_age() -> int:
    """Ratings leave the contacts' 90-day averages as they age, without a new event."""
    return contacts_ratings_refresh()
