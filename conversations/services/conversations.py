"""Conversations: open, route, status, transfer, resolve."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations import deflection, push
from conversations.access import access_conversation, is_supervisor
from conversations.models import (
    Channel,
    ContactReason,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
    Priority,
)
from conversations.selectors import author_name
from conversations.services.common import assigned_record, check_client_id, timeline_actor
from routing import services as routing
from routing.models import HELD_STATES, AgentProfile, ItemState, WorkItem, WorkItemEvent
from supportdesk.actors import user_actor
from supportdesk.errors import Conflict, DomainError, NotFound
from timeline import events
from timeline.models import Contact

logger = logging.getLogger(__name__)


def conversation_open(
    *,
    contact: Contact,
    channel: str,
    subject: str = "",
    language: str = "",
    contact_reason: str = "",
    priority: int = Priority.NORMAL,
    opened_by: AbstractBaseUser | None = None,
    route_later: bool = False,
    client_id: Any = "",
) -> Conversation:
    """Open a conversation and hand it to routing: at once, or (`route_later`) by the
    `conversation_route` task after commit, once its first message can tell its language.
    Opened again for the same contact with the same `client_id` (a retry after a timeout), the
    first one comes back, marked `replayed`; the same id for another channel is a conflict."""
    if channel not in Channel.values:
        raise DomainError(f"Unknown channel {channel!r}; use one of {', '.join(Channel.values)}.")
    client_id = check_client_id(client_id)
    if client_id and (earlier := _opened_before(contact=contact, client_id=client_id, channel=channel)):
        return earlier
    try:
        return _conversation_create(
            contact=contact, channel=channel, subject=subject, language=language,
            contact_reason=contact_reason, priority=priority, opened_by=opened_by,
            route_later=route_later, client_id=client_id)
    except IntegrityError:
        # The same open sent twice at the same moment: the other one committed first.
        earlier = _opened_before(contact=contact, client_id=client_id, channel=channel) if client_id else None
        if earlier is None:
            raise
        return earlier


def _opened_before(*, contact: Contact, client_id: str, channel: str) -> Conversation | None:
    earlier = Conversation.objects.filter(contact=contact, client_id=client_id).first()
    if earlier is None:
        return None
    if earlier.channel != channel:
        raise Conflict(_("client_id %(id)s opened another conversation already.") % {"id": client_id},
                       code="client_id_reused")
    earlier.replayed = True
    return earlier


def _conversation_create(*, contact: Contact, channel: str, subject: str, language: str, contact_reason: str,
                         priority: int, opened_by: AbstractBaseUser | None, route_later: bool,
                         client_id: str) -> Conversation:
    with transaction.atomic():
        conversation = Conversation.objects.create(
            contact=contact,
            channel=channel,
            subject=subject,
            language=language or contact.preferred_language,
            contact_reason=contact_reason,
            priority=priority,
            client_id=client_id,
        )
        events.conversation_opened_event(
            contact_id=contact.pk, conversation_id=conversation.pk, channel=channel,
            subject=subject, occurred_at=conversation.created_at, actor=timeline_actor(opened_by),
        )
        # What the contact read in the widget before asking goes with it (and was not deflected).
        deflection.deflection_follow(conversation=conversation)
        if route_later:
            from conversations import tasks  # tasks import these services

            transaction.on_commit(lambda: tasks.conversation_route_enqueue(conversation.pk))
        else:
            _route(conversation)
    return conversation


def routing_attributes(conversation: Conversation) -> dict[str, Any]:
    """What routing matches on, from the conversation and its contact."""
    contact = conversation.contact
    attributes: dict[str, Any] = {
        "language": conversation.language or contact.preferred_language,
        "contact_kind": contact.kind,
        "lifetime_order_value": str(contact.lifetime_order_value),
        "priority": conversation.priority,
    }
    optional = {"tier": contact.tier, "country": contact.country,
                "contact_reason": conversation.contact_reason}
    attributes.update({name: value for name, value in optional.items() if value})
    # Satisfaction (kept by the surveys): only for a contact who rated, so "no rating" stays
    # distinguishable from a low one in routing's conditions.
    if contact.last_rating is not None:
        attributes["last_rating"] = contact.last_rating
    if contact.rating_avg_90d is not None:
        attributes["rating_avg_90d"] = str(contact.rating_avg_90d)
    return attributes


def _route(conversation: Conversation) -> None:
    """Ask routing for an agent (a reopened conversation goes back to its last one if free)."""
    routing.work_item_enqueue(conversation_id=conversation.pk, channel=conversation.channel,
                              attributes=routing_attributes(conversation), priority=conversation.priority)
    conversation.routed_at = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(routed_at=conversation.routed_at)


def conversation_route(*, conversation_id: int) -> bool:
    """Route a conversation that waits for it (the task's use case; idempotent).

    A chat without a language takes the one its first customer message is written in,
    when the detector is sure enough; else the desk's default. False when there was
    nothing to do (routed already, or no longer open).
    """
    from conversations.language import language_detect  # numpy and the model: only where routing runs

    _intent_model_warm()
    with transaction.atomic():
        conversation = (Conversation.objects.select_for_update().select_related("contact")
                        .filter(pk=conversation_id, routed_at__isnull=True,
                                status=ConversationStatus.OPEN).first())
        if conversation is None:
            return False
        if conversation.channel == Channel.VOICE:
            from conversations.services.calls import call_in_menu  # calls build on these services

            if call_in_menu(conversation.pk):
                return False  # the caller's language choice routes it
        first = None
        if not conversation.language or conversation.intent_confidence is None:
            first = (Message.objects.filter(conversation_id=conversation.pk,
                                            direction=MessageDirection.INBOUND)
                     .order_by("sequence").values_list("body", flat=True).first())
        if not conversation.language:
            conversation.language, _confidence = language_detect(
                first or "", default=settings.CHAT_DEFAULT_LANGUAGE)
            Conversation.objects.filter(pk=conversation.pk).update(language=conversation.language)
        if first and conversation.intent_confidence is None:
            _intent_record(conversation, first)
        _route(conversation)
    return True


def _intent_model_warm() -> None:
    """The intent model is trained on a process's first use (1-2 s): before a conversation's
    row is locked rather than while. A failure is logged; routing goes on without the label."""
    from conversations.intents.model import trained

    try:
        trained()
    except Exception:  # noqa: BLE001 - an optional label must never keep a customer from an agent
        logger.exception("the intent model could not be trained")


def _intent_record(conversation: Conversation, text: str) -> None:
    """Store what the first customer message asks for (empty under the threshold), for the agent
    to read beside the language. A label, not a decision: should the model ever fail, the
    conversation is routed all the same and the failure logged."""
    from conversations.intents import intent_of  # scikit-learn and the model: only where routing runs

    try:
        guess = intent_of(text, conversation.language)
    except Exception:  # noqa: BLE001 - an optional label must never keep a customer from an agent
        logger.exception("intent recognition failed for conversation %s", conversation.pk)
        return
    conversation.intent = guess.intent.value if guess.intent else ""
    conversation.intent_confidence = round(guess.confidence, 4)
    Conversation.objects.filter(pk=conversation.pk).update(
        intent=conversation.intent, intent_confidence=conversation.intent_confidence)


def conversation_status_set(
    *, conversation: Conversation, status: str, changed_by: AbstractBaseUser | None = None
) -> Conversation:
    if status not in ConversationStatus.values:
        raise DomainError(
            f"Unknown status {status!r}; use one of {', '.join(ConversationStatus.values)}."
        )
    if conversation.status == status:
        return conversation
    was_closed = conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)
    with transaction.atomic():
        conversation.status = status
        if status == ConversationStatus.RESOLVED:
            conversation.resolved_at = timezone.now()
        elif status in (ConversationStatus.OPEN, ConversationStatus.PENDING):
            conversation.resolved_at = None  # reopened: the old resolution no longer stands
        conversation.save(update_fields=["status", "resolved_at", "updated_at"])
        events.conversation_status_changed_event(
            contact_id=conversation.contact_id, conversation_id=conversation.pk, status=status,
            occurred_at=conversation.updated_at, actor=timeline_actor(changed_by),
        )
        if status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED):
            routing.work_item_complete(conversation_id=conversation.pk, user=changed_by)
        elif was_closed:
            _route(conversation)
        push.status_changed(conversation_id=conversation.pk, status=status)
    return conversation


def conversation_transfer(*, conversation_id: int, user: Any, queue_key: str | None = None,
                          agent_user_id: int | None = None, agent_id: int | None = None) -> WorkItem:
    """Pass a conversation on, to a queue (routed afresh) or to an agent with room (named by
    their user id, as the desk does, or by their agent profile's id, as the API does). Sent
    again (a retry after a timeout), it changes nothing: see `_transferred_already`."""
    target_user_id = agent_user_id if agent_id is None else (
        AgentProfile.objects.filter(pk=agent_id).values_list("user_id", flat=True).first())
    done = _transferred_already(conversation_id=conversation_id, user=user, queue_key=queue_key,
                                agent_user_id=target_user_id)
    if done is not None:
        return done
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    item = WorkItem.objects.filter(conversation_id=conversation_id,
                                   state__in=(ItemState.WAITING, *HELD_STATES)).first()
    if item is None:
        raise Conflict("The conversation is not with routing (resolved?); nothing to transfer.",
                       code="not_routed")
    if agent_user_id is not None:
        agent_id = AgentProfile.objects.filter(user_id=agent_user_id).values_list("pk", flat=True).first()
        if agent_id is None:
            raise NotFound(f"No agent {agent_user_id}.")
    with transaction.atomic():
        item = routing.work_item_transfer(item_id=item.pk, user=user, queue_key=queue_key,
                                          agent_id=agent_id, is_supervisor=is_supervisor(user))
        new_assignee = item.agent.user if item.state == ItemState.ASSIGNED and item.agent_id else None
        Conversation.objects.filter(pk=conversation_id).update(assignee=new_assignee)
        events.conversation_transferred_event(
            contact_id=conversation.contact_id, conversation_id=conversation_id,
            to_queue=queue_key or "", to_agent=author_name(new_assignee) if new_assignee else "",
            occurred_at=timezone.now(), actor=timeline_actor(user),
        )
        if new_assignee is not None:
            assigned_record(conversation_id=conversation_id, contact_id=conversation.contact_id,
                            agent=new_assignee, by=user)
            push.assignment_changed(conversation_id=conversation_id, agent_name=author_name(new_assignee))
        if conversation.channel == Channel.VOICE:
            from conversations.services import calls  # calls build on these services

            if new_assignee is not None:
                calls.call_connect_agent(conversation_id=conversation_id, agent=new_assignee)
            else:
                calls.call_requeue(conversation_id=conversation_id, by=user)
    return item


def _transferred_already(*, conversation_id: int, user: Any, queue_key: str | None,
                         agent_user_id: int | None) -> WorkItem | None:
    """The conversation's work item if it is where this transfer sends it already (waiting or
    offered in that queue, not to this user; or assigned to that agent), provided the user sent
    it there themselves (theirs is its last transfer) or may see it; else None.

    So a transfer sent again answers as the first did, though the agent lost sight of the
    conversation with the first one, while work that came back to them may be passed on anew."""
    item = (WorkItem.objects.select_related("queue", "agent")
            .filter(conversation_id=conversation_id, state__in=(ItemState.WAITING, *HELD_STATES)).first())
    if item is None:
        return None
    holder = item.agent.user_id if item.agent is not None else None
    if queue_key is not None:
        there = item.queue.key == queue_key and item.state != ItemState.ASSIGNED and holder != user.pk
    else:
        there = item.state == ItemState.ASSIGNED and holder == agent_user_id
    if not there:
        return None
    # Routing records who moved the item with the same actor string the timeline uses.
    last = (WorkItemEvent.objects.filter(item_id=item.pk, kind="transferred")
            .order_by("-at", "-pk").values_list("detail", flat=True).first())
    if not (last and last.get("by") == user_actor(user)):
        access_conversation(user=user, conversation_id=conversation_id)  # not theirs: not found
    return item


def conversation_resolve(*, conversation_id: int, user: Any, contact_reason: str) -> Conversation:
    """Done: with why the contact got in touch (one of the supervisors' contact reasons).
    Resolving again for the same reason (a retry after a timeout) changes nothing."""
    conversation = access_conversation(user=user, conversation_id=conversation_id)
    if conversation.status == ConversationStatus.RESOLVED and conversation.contact_reason == contact_reason:
        return conversation
    conversation = access_conversation(user=user, conversation_id=conversation_id, act=True)
    if not ContactReason.objects.filter(key=contact_reason, is_active=True).exists():
        raise DomainError(f"Unknown contact reason {contact_reason!r}.", code="invalid_contact_reason")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(contact_reason=contact_reason)
        conversation.contact_reason = contact_reason
        return conversation_status_set(conversation=conversation, status=ConversationStatus.RESOLVED,
                                       changed_by=user)
