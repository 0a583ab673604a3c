"""What the CSAT tests share: resolving a conversation as an agent (or automatically), draining
the surveys' consumer of the timeline, and a channel that records what it was asked to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conversations import services
from conversations.models import Conversation, ConversationStatus
from routing.models import Queue
from tests.factories import ContactFactory
from tests.scenarios import conversation_assigned, online_agent
from workflows.surveys import tasks
from workflows.surveys.models import SurveySetting


def settings_for(channel: str, *, queue: str | None = None, **fields: Any) -> SurveySetting:
    queue_row = Queue.objects.get_or_create(key=queue, defaults={"name": queue})[0] if queue else None
    values = {"is_enabled": True, "delay_seconds": 0, "survey_auto_closed": False, "min_days_between": 7, **fields}
    return SurveySetting.objects.update_or_create(channel=channel, queue=queue_row, defaults=values)[0]


def chat_of_agent(*, contact: Any = None) -> tuple[Conversation, Any]:
    """A chat assigned to an online agent: (conversation, the agent's user)."""
    profile = online_agent()
    conversation = conversation_assigned(profile)
    if contact is not None:
        Conversation.objects.filter(pk=conversation.pk).update(contact=contact)
        conversation.refresh_from_db()
    return conversation, profile.user


def conversation_on(channel: str, *, contact: Any = None, language: str = "es") -> Conversation:
    return services.conversation_open(contact=contact or ContactFactory(preferred_language=language),
                                      channel=channel, language=language)


def resolve(conversation: Conversation, user: Any = None) -> None:
    """Resolved by `user` (a person), or by nobody in particular (automatically) when None."""
    conversation.refresh_from_db()
    services.conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED,
                                     changed_by=user)


def reopen(conversation: Conversation, user: Any = None) -> None:
    conversation.refresh_from_db()
    services.conversation_status_set(conversation=conversation, status=ConversationStatus.OPEN, changed_by=user)


def drain() -> int:
    """What the beat's task does: the surveys' consumer takes the new status changes."""
    return tasks.surveys_on_resolutions()


@dataclass
class RecordingChannel:
    """A channel in workflows' registry that keeps what it was given (the registry is ours; the
    real email channel is tested with a real SMTP server in the mail tests)."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    def send(self, contact: Any, rendered: Any, *, idempotency_key: str, context: dict[str, Any]) -> str:
        if self.fail:
            raise ConnectionError("The mail server did not answer.")
        self.sent.append({"contact": contact.pk, "rendered": rendered, "key": idempotency_key, **context})
        return f"<{idempotency_key}@test>"
