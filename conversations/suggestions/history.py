"""The desk's history as the suggestions' examples: each agent reply that inserted a macro or an
article, with what the customer had written before it (engine.context_text)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from conversations.models import Message, MessageDirection
from conversations.suggestions.engine import Example, context_text

BATCH = 500  # conversations whose messages are read per query
# Messages read before each reply: the context takes the last few customer messages, so a long
# conversation's start is not needed.
LOOK_BACK = 20


def replies_labelled(*, since: datetime, until: datetime, limit: int):  # -> QuerySet of dicts
    """The newest `limit` replies in [since, until) that inserted something (a partial index)."""
    return (Message.objects.filter(direction=MessageDirection.OUTBOUND, created_at__gte=since,
                                   created_at__lt=until)
            .exclude(inserted=[])
            .order_by("-created_at")
            .values("conversation_id", "sequence", "inserted", "created_at", "conversation__language")[:limit])


def examples_load(*, since: datetime, until: datetime, limit: int,
                  on_progress: Callable[[int, int], None] | None = None) -> list[Example]:
    """The examples of the replies in [since, until), oldest first; `on_progress(done, total)`
    after each batch of conversations read."""
    replies = list(replies_labelled(since=since, until=until, limit=limit))
    by_conversation: dict[int, list[dict]] = defaultdict(list)
    for reply in replies:
        by_conversation[reply["conversation_id"]].append(reply)
    conversation_ids = sorted(by_conversation)
    examples: list[Example] = []
    done = 0
    for start in range(0, len(conversation_ids), BATCH):
        batch = conversation_ids[start:start + BATCH]
        lowest = min(reply["sequence"] for cid in batch for reply in by_conversation[cid])
        turns: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        for conversation_id, sequence, direction, body in (
                Message.objects.filter(conversation_id__in=batch, sequence__gte=max(lowest - LOOK_BACK, 1),
                                       direction__in=[MessageDirection.INBOUND, MessageDirection.OUTBOUND])
                .order_by("conversation_id", "sequence")
                .values_list("conversation_id", "sequence", "direction", "body")):
            turns[conversation_id].append((sequence, direction, body))
        for conversation_id in batch:
            messages = turns[conversation_id]
            sequences = [sequence for sequence, _direction, _body in messages]
            for reply in by_conversation[conversation_id]:
                position = bisect.bisect_left(sequences, reply["sequence"])
                before = messages[max(0, position - LOOK_BACK):position]
                labels = tuple(label for label in reply["inserted"] if isinstance(label, str))
                examples.append(Example(
                    text=context_text([(direction, body) for _sequence, direction, body in before]),
                    language=reply["conversation__language"] or "", labels=labels, at=reply["created_at"]))
        done += len(batch)
        if on_progress is not None:
            on_progress(done, len(conversation_ids))
    examples.sort(key=lambda example: example.at)
    return examples
