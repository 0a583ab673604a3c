"""Conversations ask routing for an agent when they open, free the agent when resolved,
and go back to their last agent when reopened."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conversations import services
from conversations.models import ConversationStatus
from routing import services as routing
from routing.models import ItemState, Presence, Queue, RoutingRule, WorkItem
from supportdesk.errors import Conflict
from tests.factories import AgentProfileFactory, ContactFactory

pytestmark = pytest.mark.django_db


def test_open_routes_with_the_contacts_attributes_resolve_completes_reopen_returns():
    Queue.objects.create(key="vip", name="VIP", assign_directly=True)
    RoutingRule.objects.create(name="big spenders", position=1, queue_key="vip", condition={
        "attribute": "lifetime_order_value", "op": "gte", "value": 1000})
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    agent = routing.presence_set(user=profile.user, presence=Presence.ONLINE)
    contact = ContactFactory(preferred_language="es", lifetime_order_value=Decimal("1500.00"))

    conversation = services.conversation_open(contact=contact, channel="chat", contact_reason="late order")

    item = WorkItem.objects.get(conversation_id=conversation.pk)
    assert item.queue.key == "vip" and item.state == ItemState.ASSIGNED and item.agent_id == agent.pk
    assert item.attributes["contact_reason"] == "late order"
    assert item.attributes["lifetime_order_value"] == "1500.00"
    assert item.priority == conversation.priority  # no rule overrode it

    services.conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED)
    item.refresh_from_db()
    assert item.state == ItemState.COMPLETED

    # A second agent, never assigned anything: longest idle, so matching alone would pick them.
    other = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], skills=agent.skills)
    routing.presence_set(user=other.user, presence=Presence.ONLINE)
    services.conversation_status_set(conversation=conversation, status=ConversationStatus.OPEN)
    reopened = WorkItem.objects.get(conversation_id=conversation.pk, state=ItemState.ASSIGNED)
    assert reopened.pk != item.pk and reopened.agent_id == agent.pk


def test_a_late_accept_in_the_desk_is_refused_and_the_chat_is_already_offered_to_the_next_agent():
    # Given a chat offered to one of two agents, whose offer timed out a moment ago
    Queue.objects.create(key="general", name="General")
    agents = [routing.presence_set(user=AgentProfileFactory(languages=["es"], contact_kinds=["customer"]).user,
                                   presence=Presence.ONLINE) for _ in range(2)]
    contact = ContactFactory(preferred_language="es")
    conversation = services.conversation_open(contact=contact, channel="chat")
    item = WorkItem.objects.get(conversation_id=conversation.pk)
    late = next(agent for agent in agents if agent.pk == item.agent_id)
    WorkItem.objects.filter(pk=item.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))

    # When that agent accepts through the desk's service
    with pytest.raises(Conflict) as refused:
        services.offer_accept(item_id=item.pk, user=late.user)

    # Then they are told, and the chat is offered to the other agent, not rolled back with the refusal
    item.refresh_from_db()
    assert refused.value.code == "offer_expired"
    assert item.state == ItemState.OFFERED and item.agent_id != late.pk and item.agent_id is not None
    conversation.refresh_from_db()
    assert conversation.assignee_id is None
