"""Reads of conversations and messages, as querysets the API can filter and paginate."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations import widget
from conversations.access import conversations_visible
from conversations.models import (
    Call,
    CallInvitation,
    CallInvitationState,
    Conversation,
    ConversationStatus,
    Macro,
    Message,
    MessageDirection,
)
from routing import service_levels
from routing.models import CHANNELS, AgentProfile, ItemState, Presence, Queue, WorkItem
from routing.selectors import agents_load, day_start, presence_seconds, queue_stats, share_of
from timeline.models import ORDER_ON_THE_WAY, Contact, ContactKind, Order, OrderStatus


def conversation_list(*, visible_to: Any = None) -> QuerySet[Conversation]:
    """Conversations with their contact and assignee joined in, so a page costs one query;
    with `visible_to`, only those that user may see (conversations.access decides)."""
    conversations = Conversation.objects.all() if visible_to is None else conversations_visible(visible_to)
    return conversations.select_related("contact", "assignee")


def message_list(*, conversation: Conversation, notes: bool = True) -> QuerySet[Message]:
    """The conversation's messages with their authors joined in (internal notes only with `notes`)."""
    messages = Message.objects.filter(conversation=conversation).select_related("author_user")
    return messages if notes else messages.exclude(direction=MessageDirection.NOTE)


def conversations_open_count() -> int:
    return Conversation.objects.filter(status=ConversationStatus.OPEN).count()


# --- the agent workspace -------------------------------------------------------------------------


def visitor_contact(session: widget.Session) -> Contact | None:
    """The contact a widget session speaks for; an anonymous visitor has one once they wrote
    or left an email."""
    if session.contact_id:
        return Contact.objects.filter(pk=session.contact_id).first()
    return Contact.objects.filter(kind=ContactKind.CUSTOMER, external_id=session.visitor_external_id).first()


def agents_online() -> bool:
    """Whether any agent is online: the widget asks an anonymous visitor for an email when not."""
    return AgentProfile.objects.filter(presence=Presence.ONLINE).exists()


def messages_after(*, conversation_id: int, after: int = 0, notes: bool = False,
                   limit: int = 500) -> list[Message]:
    """Messages past a sequence number, oldest first: what a page that reconnects missed.

    The widget never gets notes (`notes=False`); the desk does.
    """
    queryset = (Message.objects.filter(conversation_id=conversation_id, sequence__gt=after)
                .select_related("author_user").order_by("sequence"))
    if not notes:
        queryset = queryset.exclude(direction=MessageDirection.NOTE)
    return list(queryset[:limit])


def _unread() -> Subquery:
    """Customer messages after the agents' read mark, per conversation."""
    return Subquery(
        Message.objects.filter(conversation_id=OuterRef("pk"), direction=MessageDirection.INBOUND,
                               sequence__gt=OuterRef("agent_read_sequence"))
        .order_by().values("conversation_id").annotate(n=Count("id")).values("n")[:1],
        output_field=IntegerField(),
    )


def agent_conversations(*, user: Any) -> QuerySet[Conversation]:
    """The conversations assigned to the agent now, newest message first, with unread counts."""
    ids = WorkItem.objects.filter(agent__user_id=user.pk, state=ItemState.ASSIGNED).values("conversation_id")
    return (Conversation.objects.filter(pk__in=ids).select_related("contact")
            .annotate(unread=Coalesce(_unread(), 0)).order_by(F("last_message_at").desc(nulls_last=True)))


def agent_offers(*, user: Any) -> list[dict[str, Any]]:
    """Offers waiting for the agent's answer, with what the offer card shows (an offer past its
    timeout is no longer theirs to answer, whether or not a sweep has expired it yet)."""
    items = list(WorkItem.objects.filter(agent__user_id=user.pk, state=ItemState.OFFERED,
                                         offer_expires_at__gt=timezone.now())
                 .select_related("queue").order_by("offered_at"))
    ids = [item.conversation_id for item in items]
    conversations = Conversation.objects.select_related("contact").in_bulk(ids)
    # Each conversation's first customer message, for all the offers in one query.
    firsts = dict(Message.objects.filter(conversation_id__in=ids, direction=MessageDirection.INBOUND)
                  .order_by("conversation_id", "sequence").distinct("conversation_id")
                  .values_list("conversation_id", "body"))
    callers = offer_caller_numbers([item.conversation_id for item in items if item.channel == "voice"])
    return [{"item": item, "conversation": conversations[item.conversation_id],
             "preview": firsts.get(item.conversation_id, "")[:160],
             "caller": callers.get(item.conversation_id, "")}
            for item in items if item.conversation_id in conversations]


def transfer_targets(user: Any) -> dict[str, Any]:
    """Where the user may pass a conversation on: the active queues, and the other agents online."""
    queues = list(Queue.objects.filter(is_active=True).order_by("name").values("key", "name"))
    agents = [{"id": profile.user_id, "name": profile.user.get_full_name() or profile.user.get_username()}
              for profile in AgentProfile.objects.filter(presence=Presence.ONLINE)
              .exclude(user_id=user.pk).select_related("user").order_by("user__username")[:200]]
    return {"queues": queues, "agents": agents}


def macros_in_language(*, language: str, shortcuts: Iterable[str] | None = None) -> dict[str, Macro]:
    """Shortcut -> the active macro a conversation in `language` uses: its text in that language,
    else the one for any language (the composer's `#shortcut`, the suggested replies)."""
    macros = Macro.objects.filter(is_active=True, language__in=["", language])
    if shortcuts is not None:
        macros = macros.filter(shortcut__in=list(shortcuts))
    return {macro.shortcut: macro for macro in macros.order_by("language")}  # "" first: the language's wins


def macros_for(*, conversation: Conversation, agent: Any) -> dict[str, str]:
    """Shortcut -> text with this conversation's variables filled in (the composer expands
    `#shortcut`); a macro in the conversation's language wins over the one for any language."""
    return {shortcut: macro_render(macro=macro, conversation=conversation, agent=agent)
            for shortcut, macro in macros_in_language(language=conversation.language).items()}


def author_name(user: Any) -> str:
    """How a contact sees an agent: their first name, else their username."""
    return getattr(user, "first_name", "") or user.get_username()


MACRO_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\.([a-z_]+)\s*\}\}")


def macro_render(*, macro: Macro, conversation: Conversation, agent: Any) -> str:
    """The macro's text with the contact's and the agent's variables filled in (an unknown
    variable stays as written, so a supervisor's typo shows instead of vanishing)."""
    contact = conversation.contact
    values = {
        "contact": {"name": contact.name, "first_name": (contact.name or "").split(" ")[0],
                    "email": contact.email, "external_id": contact.external_id,
                    "lifetime_order_value": contact.lifetime_order_value,
                    "credit_balance": contact.credit_balance, "tier": contact.get_tier_display(),
                    "store_name": contact.store_name},
        "agent": {"first_name": author_name(agent), "name": agent.get_full_name() or agent.get_username()},
        "conversation": {"id": conversation.pk},
    }

    def fill(match: re.Match) -> str:
        value = values.get(match.group(1), {}).get(match.group(2))
        return match.group(0) if value is None else str(value)

    return MACRO_VARIABLE.sub(fill, macro.body)


def conversation_summaries(*, conversation_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """For a page of timeline events: each conversation's channel, status, number of messages
    (notes left out) and its last message, in two queries whatever the page holds."""
    ids = set(conversation_ids)
    if not ids:
        return {}
    summaries = {pk: {"channel": channel, "status": status, "messages": 0, "last": ""}
                 for pk, channel, status in Conversation.objects.filter(pk__in=ids)
                 .values_list("pk", "channel", "status")}
    shown = Message.objects.filter(conversation_id__in=summaries).exclude(direction=MessageDirection.NOTE)
    for row in shown.values("conversation_id").annotate(n=Count("id")).order_by():
        summaries[row["conversation_id"]]["messages"] = row["n"]
    last = (shown.order_by("conversation_id", "-sequence").distinct("conversation_id")
            .values_list("conversation_id", "direction", "body"))
    for conversation_id, direction, body in last:
        summaries[conversation_id]["last"] = body[:140]
        summaries[conversation_id]["last_from"] = "contact" if direction == MessageDirection.INBOUND else "agent"
    return summaries


def contact_context(*, contact: Contact) -> dict[str, Any]:
    """The contact sidebar: what matters for this kind of contact, and their last five
    conversations on any channel."""
    context: dict[str, Any] = {"contact": contact, "kind": contact.kind}
    if contact.kind == ContactKind.CUSTOMER:
        context["orders"] = list(Order.objects.filter(customer_id=contact.pk)
                                 .order_by(F("placed_at").desc(nulls_last=True), "-pk")[:5])
    elif contact.kind == ContactKind.COURIER and contact.current_order_id:
        context["current_order"] = Order.objects.filter(pk=contact.current_order_id).first()
    context["conversations"] = list(Conversation.objects.filter(contact_id=contact.pk)
                                    .order_by("-created_at")[:5])
    return context


def queue_satisfaction(*, start: datetime, now: datetime) -> dict[int, dict[str, int]]:
    """Per queue, the conversations rated from `start` to `now`: how many (`rated`) and how many
    rated 4 or 5 (`satisfied`). A rating counts in the queue of the conversation's last work
    item enqueued before it was rated (its latest rating, if it was rated again).

    One query: the day's ratings through their partial index (conversation_rated_at), each
    conversation's item through the work items' (conversation, newest first) index."""
    conversation, item = Conversation._meta.db_table, WorkItem._meta.db_table
    sql = f"""
        SELECT rated_item.queue_id, count(*), count(*) FILTER (WHERE c.rating >= 4)
        FROM {conversation} c
        CROSS JOIN LATERAL (
            SELECT i.queue_id FROM {item} i
            WHERE i.conversation_id = c.id AND i.enqueued_at <= c.rated_at
            ORDER BY i.enqueued_at DESC LIMIT 1
        ) rated_item
        WHERE c.rated_at >= %(start)s AND c.rated_at <= %(now)s AND c.rating IS NOT NULL
        GROUP BY rated_item.queue_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": start, "now": now})
        return {queue_id: {"rated": rated, "satisfied": satisfied}
                for queue_id, rated, satisfied in cursor.fetchall()}


def supervisor_snapshot(*, now: datetime | None = None, at_risk_share: float = 0.8,
                        at_risk_limit: int = 20, agents_limit: int = 200) -> dict[str, Any]:
    """The supervisors' live view: queues (routing's `queue_stats`, with today's
    satisfaction), agents not offline with presence, load and time in each presence today
    (the first `agents_limit`; counts by presence for all), and waiting conversations close
    to (or past) their queue's target wait, longest first."""
    now = now or timezone.now()
    today = day_start(now)
    presence_counts = dict(AgentProfile.objects.values_list("presence").annotate(n=Count("id")).order_by())
    agents = list(AgentProfile.objects.exclude(presence=Presence.OFFLINE).select_related("user")
                  .order_by("user__username")[:agents_limit])
    loads = agents_load(agent_ids=[agent.pk for agent in agents])
    presence_today = presence_seconds(agent_ids=[agent.pk for agent in agents], start=today, end=now, now=now)
    satisfaction = queue_satisfaction(start=today, now=now)
    waiting = list(WorkItem.objects.filter(state__in=(ItemState.WAITING, ItemState.OFFERED))
                   .select_related("queue").order_by("enqueued_at")[:500])
    at_risk = []
    for item in waiting:
        waited = (now - item.enqueued_at).total_seconds()
        target = item.queue.target_wait_seconds if item.queue_id else 0
        if target and waited >= target * at_risk_share:
            at_risk.append({"conversation_id": item.conversation_id, "queue": item.queue.key,
                            "state": item.state, "waited_seconds": int(waited),
                            "target_wait_seconds": target, "breached": service_levels.breached(item, now=now)})
        if len(at_risk) >= at_risk_limit:
            break
    queues = []
    for queue in queue_stats(now=now):
        rated = satisfaction.get(queue["id"], {"rated": 0, "satisfied": 0})
        queues.append({**queue, "rated_today": rated["rated"],
                       "satisfaction_today": share_of(rated["satisfied"], rated["rated"])})
    return {
        "at": now.isoformat(),
        "queues": queues,
        "agents": [{"id": agent.user_id, "name": agent.user.get_full_name() or agent.user.get_username(),
                    "presence": agent.presence, "load": loads.get(agent.pk, {}),
                    "capacity": {channel: agent.capacity_for(channel) for channel in CHANNELS},
                    "presence_seconds_today": presence_today[agent.pk]}
                   for agent in agents],
        "agents_by_presence": {presence: presence_counts.get(presence, 0) for presence in Presence.values},
        "at_risk": at_risk,
    }


def conversation_calls(*, conversation_id: int, limit: int = 20) -> list[Any]:
    """The conversation's calls, newest first, each with its events in order (the call panel)."""
    return list(Call.objects.filter(conversation_id=conversation_id).select_related("agent")
                .prefetch_related("events__agent").order_by("-created_at", "-pk")[:limit])


def offer_caller_numbers(conversation_ids: list[int]) -> dict[int, str]:
    """The number each voice conversation's newest call comes from (the ringing offer shows it)."""
    newest = Call.objects.filter(conversation_id__in=conversation_ids).order_by("conversation_id", "-created_at")
    return dict(newest.distinct("conversation_id").values_list("conversation_id", "contact_number"))


def call_invitation_counts(*, since: datetime) -> list[dict[str, Any]]:
    """Proactive calls per agent and reason since `since` (seed 002; the supervisors' table):
    invitations offered, accepted (the customer consented, whatever the call did next),
    refused (stayed in chat) and completed (the call was answered and ended). One grouped
    query over the invitations' (agent, created_at) index."""
    consented = (CallInvitationState.ACCEPTED, CallInvitationState.COMPLETED, CallInvitationState.FAILED)
    rows = (CallInvitation.objects.filter(created_at__gte=since)
            .values("agent_id", "agent__username", "agent__first_name", "agent__last_name", "reason")
            .annotate(offered=Count("id"), accepted=Count("id", filter=Q(state__in=consented)),
                      refused=Count("id", filter=Q(state=CallInvitationState.REFUSED)),
                      completed=Count("id", filter=Q(state=CallInvitationState.COMPLETED)))
            .order_by("agent__username", "reason"))
    return [{"agent_id": row["agent_id"], "reason": row["reason"],
             "agent": " ".join(filter(None, (row["agent__first_name"], row["agent__last_name"])))
             or row["agent__username"],
             **{key: row[key] for key in ("offered", "accepted", "refused", "completed")}} for row in rows]


def customer_recent_orders(*, customer_id: int, limit: int = 5) -> list[Order]:
    """A customer's newest orders (index order_customer_placed), with the courier bringing them."""
    return list(Order.objects.filter(customer_id=customer_id).select_related("courier")
                .order_by(F("placed_at").desc(nulls_last=True), "-pk")[:limit])


def courier_current_delivery(*, courier: Contact) -> Order | None:
    """The order a courier carries now: the OMS's current order for them while it is on its way
    with them, else their newest such order."""
    on_the_way = Order.objects.filter(courier_id=courier.pk, status__in=ORDER_ON_THE_WAY).select_related(
        "customer", "partner")
    if courier.current_order_id:
        current = on_the_way.filter(pk=courier.current_order_id).first()
        if current is not None:
            return current
    return on_the_way.order_by(F("placed_at").desc(nulls_last=True), "-pk").first()


def partner_day(*, partner_id: int, since: datetime, late_limit: int = 10) -> tuple[dict[str, int], list[Order]]:
    """A partner's store since `since` (the start of their day): its orders counted by status, and
    its orders late now (any day's, not yet delivered or cancelled), most late first."""
    counts = dict(Order.objects.filter(partner_id=partner_id, placed_at__gte=since).values_list("status")
                  .annotate(n=Count("id")).order_by())
    late = list(Order.objects.filter(partner_id=partner_id, is_delayed=True, delay_minutes__gt=0)
                .exclude(status__in=(OrderStatus.DELIVERED, OrderStatus.CANCELLED))
                .order_by("-delay_minutes", "pk")[:late_limit])
    return counts, late
