"""Situations the access tests share: agents online, conversations offered or assigned to them,
built through the real services (routing offers, the conversation accepts)."""

from __future__ import annotations

from typing import Any

from conversations import services
from conversations.models import Conversation
from routing import services as routing
from routing.models import AgentProfile, Presence, Queue, WorkItem
from tests.factories import AgentProfileFactory, ContactFactory

CAPACITY = {"chat": 5, "messaging": 5, "email": 5, "voice": 1}


def online_agent(user: Any = None, **fields: Any) -> AgentProfile:
    """An agent online with room for Spanish chats: a new one, or `user` (made one if need be)."""
    Queue.objects.get_or_create(key="general", defaults={"name": "General"})
    wanted = {"languages": ["es"], "contact_kinds": ["customer"], "capacity": CAPACITY, **fields}
    if user is None:
        user = AgentProfileFactory(**wanted).user
    else:
        AgentProfile.objects.update_or_create(user=user, defaults=wanted)
    return routing.presence_set(user=user, presence=Presence.ONLINE)


def conversation_offered(profile: AgentProfile) -> tuple[Conversation, WorkItem]:
    """A chat opened while `profile` is the only agent with room: it is offered to them."""
    Queue.objects.get_or_create(key="general", defaults={"name": "General"})
    conversation = services.conversation_open(contact=ContactFactory(preferred_language="es"), channel="chat")
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert item.agent_id == profile.pk, "the set-up must offer the chat to this agent"
    return conversation, item


def conversation_assigned(profile: AgentProfile) -> Conversation:
    conversation, item = conversation_offered(profile)
    services.offer_accept(item_id=item.pk, user=profile.user)
    conversation.refresh_from_db()
    return conversation
