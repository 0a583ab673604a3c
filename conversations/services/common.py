"""What the conversation services share: the checks on what callers send, and the
assignment record on the contact's timeline."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext

from conversations.models import CLIENT_ID_PATTERN, Conversation
from conversations.selectors import author_name
from supportdesk.actors import user_actor
from supportdesk.errors import DomainError
from timeline import events


def timeline_actor(user: AbstractBaseUser | None) -> str:
    return user_actor(user, default="contact")


CLIENT_ID = re.compile(CLIENT_ID_PATTERN)
# The reason kept in routing's history of a work item the customer left before an agent
# answered (a chat ended or gone, a call hung up): the reports' abandonment.
ABANDONED = "abandoned"


def check_body(body: Any) -> str:
    if not isinstance(body, str) or not body.strip():
        raise DomainError(gettext("A message needs some text."), code="empty_body")
    if len(body) > settings.CHAT_MESSAGE_MAX_CHARS:
        raise DomainError(gettext("A message may have at most %(max)s characters.")
                          % {"max": settings.CHAT_MESSAGE_MAX_CHARS}, code="too_long")
    return body


def check_client_id(client_id: Any) -> str:
    if client_id and (not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id)):
        raise DomainError(gettext("client_id must be 1-64 letters, digits or _.:-"), code="invalid_client_id")
    return client_id or ""


def assigned_record(*, conversation_id: int, agent: Any, by: Any, contact_id: int | None = None) -> None:
    """Record on the contact's timeline who now has the conversation (in the caller's transaction)."""
    if contact_id is None:
        contact_id = Conversation.objects.filter(pk=conversation_id).values_list("contact_id", flat=True).get()
    events.conversation_assigned_event(
        contact_id=contact_id, conversation_id=conversation_id, agent=author_name(agent),
        occurred_at=timezone.now(), actor=timeline_actor(by),
    )
