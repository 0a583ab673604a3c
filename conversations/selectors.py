"""Reads of conversations and messages, as querysets the API can filter and paginate."""

from __future__ import annotations

from django.db.models import QuerySet

from conversations.models import Conversation, ConversationStatus, Message
from supportdesk.errors import NotFound


def conversation_list() -> QuerySet[Conversation]:
    """Conversations with their contact and assignee joined in, so a page costs one query."""
    return Conversation.objects.select_related("contact", "assignee")


def conversation_get(*, conversation_id: int) -> Conversation:
    """The conversation, or NotFound (404 in the API's error shape)."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    return conversation


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages with their authors joined in."""
    return Message.objects.filter(conversation=conversation).select_related("author_user")


def conversations_open_count() -> int:
    return Conversation.objects.filter(status=ConversationStatus.OPEN).count()
