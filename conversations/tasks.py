"""Celery tasks for conversations: thin and idempotent, each calling one service."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from conversations import calls, channels, push, routing_history, selectors, services
from conversations.live import live_rows
from conversations.models import Conversation, ConversationStatus

log = logging.getLogger(__name__)

# A chat's routing task normally runs within a second; older ones were lost.
UNROUTED_AFTER = timedelta(seconds=10)


@shared_task(name="conversations.tasks.conversation_route", ignore_result=True,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def conversation_route(conversation_id: int) -> bool:
    """Detect the chat's language if it has none, then hand it to routing. Idempotent."""
    return services.conversation_route(conversation_id=conversation_id)


def conversation_route_enqueue(conversation_id: int) -> None:
    """Queue the routing task (called after commit). If the broker does not answer, the
    conversation stays unrouted and the sweep below routes it: nothing is lost."""
    try:
        conversation_route.delay(conversation_id)
    except Exception:
        log.warning("Could not queue routing for conversation %s; the sweep will", conversation_id,
                    exc_info=True)


@shared_task(name="conversations.tasks.conversations_unrouted_sweep", ignore_result=True)
def conversations_unrouted_sweep(limit: int = 200) -> int:
    """Route open conversations whose routing task never ran (lost with a broker restart)."""
    ids = list(Conversation.objects.filter(routed_at__isnull=True, status=ConversationStatus.OPEN,
                                           created_at__lt=timezone.now() - UNROUTED_AFTER)
               .order_by("created_at").values_list("id", flat=True)[:limit])
    routed = sum(services.conversation_route(conversation_id=conversation_id) for conversation_id in ids)
    if routed:
        log.info("Routed %s conversations whose routing task was lost", routed)
    return routed


@shared_task(name="conversations.tasks.chats_abandoned_sweep", ignore_result=True)
def chats_abandoned_sweep(limit: int = 200) -> int:
    """Abandon the chats whose visitor went away before an agent answered (idempotent)."""
    abandoned = services.chats_abandoned_sweep(limit=limit)
    if abandoned:
        log.info("Abandoned %s chats whose visitor went away", abandoned)
    return abandoned


@shared_task(name="conversations.tasks.outbound_deliver", ignore_result=True)
def outbound_deliver(batches: int = 50) -> int:
    """Send the queued replies on email and messaging through their providers (idempotent: a
    message a drain sent is not queued any more; one sent twice carries the same key)."""
    return channels.outbound_drain(batches=batches)


def outbound_deliver_enqueue() -> None:
    """Called after a commit that queued a reply. If the broker does not answer, beat's
    drain sends it a few seconds later: nothing is lost."""
    try:
        outbound_deliver.delay()
    except Exception:
        log.warning("Could not queue the outbound delivery; beat's drain will send it", exc_info=True)


@shared_task(name="conversations.tasks.call_actions_send", ignore_result=True)
def call_actions_send(batches: int = 50) -> int:
    """Send what the desk asked of its calls (connect, dial, hold, resume, hang up) to the voice
    provider (idempotent: each action carries its key; a sent one is done)."""
    return calls.call_actions_drain(batches=batches)


def call_actions_send_enqueue() -> None:
    """Called after a commit that stored a call action. If the broker does not answer, beat's
    drain sends it a second later: nothing is lost."""
    try:
        call_actions_send.delay()
    except Exception:
        log.warning("Could not queue the call actions' send; beat's drain will send them", exc_info=True)


@shared_task(name="conversations.tasks.supervisor_live_push", ignore_result=True)
def supervisor_live_push() -> None:
    """One snapshot for every open live view, whoever watches (computed once per tick), with
    its durations and shares already in words (live.live_rows), as the page renders them."""
    push.supervisor_snapshot(live_rows(selectors.supervisor_snapshot()))


@shared_task(name="conversations.tasks.routing_history_to_timeline", ignore_result=True)
def routing_history_to_timeline(batches: int = 10, batch_size: int = 1000) -> int:
    """Drain routing's history onto the contacts' timelines, a batch at a time (idempotent);
    the number of events copied. Stops at a batch with a failure: the next run tries again."""
    routing_history.call_rings_copy()
    copied = 0
    for _ in range(batches):
        drained = routing_history.routing_history_copy(batch_size=batch_size)
        copied += drained.handled
        if drained.failed or drained.handled < batch_size:
            break
    return copied


@shared_task(name="conversations.tasks.suggestions_train", ignore_result=True)
def suggestions_train() -> int:
    """Train the suggested replies' model again from the latest history (beat, every
    SUGGESTIONS_TRAIN_INTERVAL_SECONDS); the new model's id. Running it twice only writes two
    models, the newer serving."""
    from conversations.suggestions.training import suggestion_model_train  # scikit-learn: only here

    model = suggestion_model_train()
    log.info("Suggestions model %s trained on %s replies; top-3 hit rate %s on %s held out",
             model.pk, model.examples, model.hit_rate, model.held_out)
    return model.pk
