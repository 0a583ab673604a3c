"""The agent's answer to an offer from routing: accept or decline."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from conversations import push
from conversations.access import access_conversation
from conversations.models import Channel, Conversation
from conversations.selectors import author_name
from conversations.services.calls import call_connect_agent
from conversations.services.common import assigned_record
from routing import services as routing
from routing.access import access_work_item, access_work_item_to_decline
from routing.models import ItemState, WorkItem


def offer_accept(*, item_id: int, user: Any) -> Conversation:
    """The agent takes the conversation offered to them; the contact learns who answers.
    Accepting again what they hold already (a retry after a timeout) opens it, changing nothing."""
    held = (WorkItem.objects.filter(pk=item_id, agent__user_id=user.pk, state=ItemState.ASSIGNED)
            .values_list("conversation_id", flat=True).first())
    if held is not None:
        return access_conversation(user=user, conversation_id=held)
    access_work_item(user=user, item_id=item_id)  # someone else's offer is as unknown as none
    refused = None
    with transaction.atomic():
        try:
            item = routing.offer_accept(item_id=item_id, user=user)
        except routing.OfferExpired as expired:
            refused = expired  # raised once this block has committed the offer to the next agent
        else:
            Conversation.objects.filter(pk=item.conversation_id).update(assignee=user)
            assigned_record(conversation_id=item.conversation_id, agent=user, by=user)
            push.assignment_changed(conversation_id=item.conversation_id, agent_name=author_name(user))
            if item.channel == Channel.VOICE:  # the ring answered: the provider connects the caller
                call_connect_agent(conversation_id=item.conversation_id, agent=user)
    if refused is not None:
        raise refused
    return access_conversation(user=user, conversation_id=item.conversation_id)


def offer_decline(*, item_id: int, user: Any, reason: str = "") -> WorkItem:
    """The agent passes on an offer: it goes to the next eligible agent, never back to them."""
    access_work_item_to_decline(user=user, item_id=item_id)
    return routing.offer_decline(item_id=item_id, user=user, reason=reason)
