"""The contact's rating of a conversation, kept on it (the survey that asked writes it)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from conversations.models import Conversation


def conversation_rating_record(*, conversation_id: int, score: int, comment: str,
                               rated_at: datetime | None = None) -> None:
    """Keep the contact's latest rating (1-5) and comment on the conversation (in the
    caller's transaction; the same answer again changes nothing but the time)."""
    Conversation.objects.filter(pk=conversation_id).update(
        rating=score, rating_comment=comment, rated_at=rated_at or timezone.now())
