"""Plans: what one contact brings (orders, conversations, messages), as plain data drawn
from its own generator."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from conversations.models import Channel, ConversationStatus, MessageDirection, Priority
from supportdesk.demo.agents import AGENTS, SENIOR_AGENTS, AgentSpec
from supportdesk.demo.catalogue import (
    COURIER_STATUS_WEIGHTS,
    CREDIT_AMOUNTS,
    DELAY_REASONS,
    DELIVERED_PATH,
    DELIVERY_FEES,
    LIVE_STATUSES,
    MENUS,
    ORDER_COUNT_WEIGHTS,
    STATUS_STEP_MINUTES,
    STORE_BRANDS,
    STORE_CATEGORY_WEIGHTS,
    TIER_THRESHOLDS,
    VEHICLE_WEIGHTS,
)
from supportdesk.demo.common import BLOCK_SIZE, COURIER, CUSTOMER, CUSTOMERS_PER_BLOCK, PARTNER
from supportdesk.demo.places import LANGUAGE_CYCLE, LOCALES, NEIGHBOUR_BLOCKS, Locale
from supportdesk.demo.queues import VIP, demo_queue_key, target_wait_seconds
from supportdesk.demo.topics import CHANNEL_WEIGHTS, MESSAGING_PROVIDERS, REASONS, REOPEN_INBOUND, REOPEN_OUTBOUND
from supportdesk.demo.work_plans import WorkPlan, abandoned_work, answer_wait, answered_work
from timeline.models import Contact, CustomerTier, OrderStatus

# Of the past conversations: closed ones on a live channel the contact left before anyone
# answered, ones an agent passed to another, and resolved ones the contact reopened (in
# writing: a call is not reopened).
ABANDONED_SHARE = 0.09
TRANSFER_SHARE = 0.06
REOPEN_SHARE = 0.04
# A conversation opened more recently than this is still going (a past one's history would
# run past now).
STILL_GOING = {Channel.EMAIL: timedelta(hours=6)}
STILL_GOING_OTHERWISE = timedelta(hours=1)


@dataclass
class OrderPlan:
    external_id: str
    courier_ref: str | None
    partner_ref: str | None
    category: str
    status: str
    total: Decimal
    items: list[dict]
    placed_at: datetime
    promised_at: datetime
    history: list[tuple[str, datetime]]
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    courier_assigned_at: datetime | None = None
    delay_minutes: int = 0
    delay_reason: str = ""
    delayed_at: datetime | None = None

    @property
    def is_delayed(self) -> bool:
        return self.delayed_at is not None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


@dataclass
class MessagePlan:
    direction: str
    body: str
    at: datetime
    author: str | None  # agent username
    metadata: dict
    inserted: tuple[str, ...] = ()  # a reply's labels (Message.inserted): the macro it started from


@dataclass
class ConversationPlan:
    channel: str
    status: str
    reason: str
    subject: str
    priority: int
    assignee: str | None
    opened_at: datetime
    messages: list[MessagePlan]
    status_changes: list[tuple[str, datetime]]
    # Past conversations' work items (routing's history); the ongoing ones go through routing.
    work: list[WorkPlan] = field(default_factory=list)

    @property
    def first_response_at(self) -> datetime | None:
        return next((m.at for m in self.messages if m.direction == MessageDirection.OUTBOUND),
                    None)

    @property
    def resolved_at(self) -> datetime | None:
        """The resolution that stands: the last (a reopen undid the earlier ones)."""
        return next((at for status, at in reversed(self.status_changes)
                     if status == ConversationStatus.RESOLVED), None)


@dataclass
class ContactPlan:
    index: int
    contact: Contact
    since: datetime
    orders: list[OrderPlan] = field(default_factory=list)
    conversations: list[ConversationPlan] = field(default_factory=list)


def contact_identity(index: int) -> tuple[str, str]:
    """The kind and external id of contact number `index` (0-based), the same on every run."""
    block, position = divmod(index, BLOCK_SIZE)
    if position == 0:
        return COURIER, f"R{block + 1:07d}"
    if position == 1:
        return PARTNER, f"P{block + 1:07d}"
    number = block * CUSTOMERS_PER_BLOCK + position - 1
    return CUSTOMER, f"C{number:07d}"


def contact_plan(*, index: int, seed: int, now: datetime, agents: Iterable[AgentSpec] = AGENTS
                 ) -> ContactPlan:
    """Everything about contact number `index`, drawn from its own generator."""
    rng = random.Random(f"{seed}:{index}")
    kind, external_id = contact_identity(index)
    block = index // BLOCK_SIZE
    language = LANGUAGE_CYCLE[block % len(LANGUAGE_CYCLE)]
    locale = LOCALES[language]
    city = rng.choice(locale.cities)
    name = _person_name(rng, locale)
    contact = Contact(
        kind=kind, external_id=external_id, name=name,
        email=f"{_email_slug(name, external_id)}@example.com",
        phone=f"+{locale.calling_code}{rng.randrange(600_000_000, 699_999_999)}",
        preferred_language=language, country=locale.country, attributes={"city": city},
    )
    # A growing business: a third of the contacts joined in the last two months, so the recent
    # weeks, which the reports open on, carry much of the history (one draw, as uniform(30, 900)).
    since = now - timedelta(days=30 + 870 * rng.random() ** 3)
    plan = ContactPlan(index=index, contact=contact, since=since)
    if kind == CUSTOMER:
        _customer_fill(plan, rng, block=block, now=now)
    elif kind == COURIER:
        contact.vehicle = _weighted(rng, VEHICLE_WEIGHTS)
        contact.courier_status = _weighted(rng, COURIER_STATUS_WEIGHTS)
        contact.attributes["rating"] = round(rng.uniform(4.2, 5.0), 2)
    else:
        category = _weighted(rng, STORE_CATEGORY_WEIGHTS)
        contact.store_category = category
        contact.store_name = f"{rng.choice(STORE_BRANDS[category])} {city}"
    # About a third of contacts wrote in at least once.
    if rng.random() < 0.33:
        _conversations_fill(plan, rng, now=now, locale=locale, agents=tuple(agents))
    return plan


def _person_name(rng: random.Random, locale: Locale) -> str:
    female = rng.random() < 0.5
    first = rng.choice(locale.female if female else locale.male)
    surname = rng.choice(locale.surnames)
    if "|" in surname:
        masculine, feminine = surname.split("|")
        surname = feminine if female else masculine
    return f"{surname}{first}" if locale.family_name_first else f"{first} {surname}"


# Letters that NFKD does not take apart into an ASCII letter and an accent.
_ASCII_LETTERS = str.maketrans({"ı": "i", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss"})


def _email_slug(name: str, external_id: str) -> str:
    ascii_name = (unicodedata.normalize("NFKD", name.translate(_ASCII_LETTERS))
                  .encode("ascii", "ignore").decode())
    words = ["".join(ch for ch in word if ch.isalnum()) for word in ascii_name.lower().split()]
    slug = ".".join(word for word in words if word)
    # Names in other scripts have no ASCII form: the id keeps each address unique anyway.
    return f"{slug}.{external_id.lower()}" if slug else external_id.lower()


def _weighted(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _neighbour_refs(block: int, prefix: str) -> list[str]:
    """Couriers or partners of this block and earlier blocks that share its language."""
    step = len(LANGUAGE_CYCLE)
    blocks = [block - k * step for k in range(NEIGHBOUR_BLOCKS) if block - k * step >= 0]
    return [f"{prefix}{b + 1:07d}" for b in blocks]


def _customer_fill(plan: ContactPlan, rng: random.Random, *, block: int, now: datetime) -> None:
    contact = plan.contact
    number = int(contact.external_id[1:])
    couriers = _neighbour_refs(block, "R")
    partners = _neighbour_refs(block, "P")
    favourite_partner = rng.choice(partners)
    order_count = rng.choices(range(len(ORDER_COUNT_WEIGHTS)), weights=ORDER_COUNT_WEIGHTS)[0]
    span = (now - plan.since).total_seconds()
    placed_times = sorted(plan.since + timedelta(seconds=rng.uniform(0, span))
                          for _ in range(order_count))
    # Some customers have an order on its way right now.
    if placed_times and rng.random() < 0.08:
        placed_times[-1] = now - timedelta(minutes=rng.uniform(5, 50))
    for position, placed_at in enumerate(placed_times, start=1):
        partner_ref = favourite_partner if rng.random() < 0.6 else rng.choice(partners)
        # A partner's category is its own draw; the order only needs a plausible menu.
        category = _weighted(rng, STORE_CATEGORY_WEIGHTS)
        plan.orders.append(_order_plan(
            rng, external_id=f"O{number:07d}{position}", courier_ref=rng.choice(couriers),
            partner_ref=partner_ref, category=category, placed_at=placed_at, now=now,
        ))

    kept = [order for order in plan.orders if order.status != OrderStatus.CANCELLED]
    contact.lifetime_order_value = sum((order.total for order in kept), Decimal("0.00"))
    contact.order_count = len(kept)
    contact.tier = next((tier for threshold, tier in TIER_THRESHOLDS
                         if contact.lifetime_order_value >= threshold), CustomerTier.STANDARD)
    if rng.random() < 0.02:
        contact.tier = CustomerTier.VIP
    if rng.random() < 0.25:
        contact.credit_balance = rng.choice(CREDIT_AMOUNTS)
    tags = []
    if contact.tier == CustomerTier.VIP:
        tags.append("vip")
    if rng.random() < 0.3:
        tags.append("newsletter")
    contact.tags = tags


def _order_plan(
    rng: random.Random, *, external_id: str, courier_ref: str, partner_ref: str, category: str,
    placed_at: datetime, now: datetime,
) -> OrderPlan:
    menu = MENUS[category]
    lines = rng.randint(3, 8) if category == "grocery" else rng.randint(1, 3)
    items = []
    total = rng.choice(DELIVERY_FEES)
    for name, price in rng.sample(menu, k=min(lines, len(menu))):
        quantity = rng.randint(1, 3)
        items.append({"name": name, "quantity": quantity, "unit_price": price})
        total += Decimal(price) * quantity
    promised_at = placed_at + timedelta(minutes=rng.randint(30, 50))
    order = OrderPlan(
        external_id=external_id, courier_ref=None, partner_ref=partner_ref, category=category,
        status=OrderStatus.CREATED, total=total, items=items, placed_at=placed_at,
        promised_at=promised_at, history=[(OrderStatus.CREATED, placed_at)],
    )
    delayed = rng.random() < 0.12
    if delayed:
        order.delay_minutes = rng.choice((10, 15, 20, 25, 30, 45))
        order.delay_reason = rng.choice(DELAY_REASONS)

    if now - placed_at < timedelta(hours=1):
        path = DELIVERED_PATH[:rng.randint(2, 4)]  # still on its way
    elif rng.random() < 0.07:
        path = _cancel_path(rng)
    else:
        path = DELIVERED_PATH
    at = placed_at
    for status in path[1:]:
        low, high = STATUS_STEP_MINUTES[status]
        step = timedelta(minutes=rng.uniform(low, high))
        if status == OrderStatus.DELIVERED and delayed:
            step += timedelta(minutes=order.delay_minutes)
        if at + step > now:
            break  # has not happened yet
        at += step
        order.history.append((status, at))
        order.status = status
        if status == OrderStatus.ACCEPTED:
            order.courier_ref = courier_ref
            order.courier_assigned_at = at
        elif status == OrderStatus.DELIVERED:
            order.delivered_at = at
        elif status == OrderStatus.CANCELLED:
            order.cancelled_at = at
    if delayed and order.status != OrderStatus.CANCELLED:
        # The OMS flags the delay a little before the promised time, or now for a live order.
        order.delayed_at = min(promised_at - timedelta(minutes=rng.randint(2, 10)), now)
        order.delayed_at = max(order.delayed_at, placed_at)
    else:
        order.delay_minutes, order.delay_reason = 0, ""
    return order


def _cancel_path(rng: random.Random) -> tuple[str, ...]:
    if rng.random() < 0.5:
        return (OrderStatus.CREATED, OrderStatus.CANCELLED)
    return (OrderStatus.CREATED, OrderStatus.ACCEPTED, OrderStatus.CANCELLED)


def _conversations_fill(
    plan: ContactPlan, rng: random.Random, *, now: datetime, locale: Locale,
    agents: tuple[AgentSpec, ...],
) -> None:
    contact = plan.contact
    kind = contact.kind
    language = contact.preferred_language
    able = [a.username for a in agents if language in a.languages and kind in a.contact_kinds]
    # Only a customer's own orders are known here, so couriers and partners write about
    # things that need no order number.
    reasons = REASONS[kind] if plan.orders else tuple(
        reason for reason in REASONS[kind] if "{order}" not in reason.subject)
    for _ in range(1 if rng.random() < 0.75 else 2):
        reason = rng.choice(reasons)
        order = None
        if plan.orders:
            delayed = [o for o in plan.orders if o.is_delayed]
            order = rng.choice(delayed) if reason.code == "late_order" and delayed else (
                rng.choice(plan.orders))
            opened_at = min(order.placed_at + timedelta(minutes=rng.uniform(20, 90)), now)
        else:
            opened_at = plan.since + (now - plan.since) * rng.random()
        item = rng.choice(MENUS[order.category if order else "restaurant"])[0]
        words = {"hello": locale.hello, "order": order.external_id if order else "",
                 "item": item, "minutes": rng.randint(5, 15)}
        channel = _weighted(rng, CHANNEL_WEIGHTS[kind])
        recent = now - opened_at < timedelta(hours=6)
        if recent and (rng.random() < 0.6 or now - opened_at < STILL_GOING.get(channel, STILL_GOING_OTHERWISE)):
            status = rng.choice((ConversationStatus.OPEN, ConversationStatus.OPEN,
                                 ConversationStatus.PENDING))
        else:
            status = rng.choice((ConversationStatus.RESOLVED, ConversationStatus.CLOSED,
                                 ConversationStatus.CLOSED))
        queue_key = demo_queue_key(channel=channel, language=language, contact_kind=kind,
                                   lifetime_order_value=contact.lifetime_order_value)
        # Waiting conversations may not have reached an agent yet.
        assignee = rng.choice(able) if able and (
            status != ConversationStatus.OPEN or rng.random() < 0.5) else None
        if assignee is None and status != ConversationStatus.OPEN:
            status = ConversationStatus.OPEN
        seniors = [username for username in able if username in SENIOR_AGENTS]
        if queue_key == VIP and assignee not in seniors and assignee and seniors:
            assignee = rng.choice(seniors)  # the VIP queue wants the skill and the tier
        past = status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED)
        target = target_wait_seconds(queue_key)
        work: list[WorkPlan] = []
        if status == ConversationStatus.CLOSED and channel != Channel.EMAIL and rng.random() < ABANDONED_SHARE:
            assignee = None  # the contact left before anyone answered
            work.append(abandoned_work(rng, queue_key=queue_key, target=target, enqueued_at=opened_at,
                                       others=able))
        vip = contact.tier == CustomerTier.VIP
        urgent_reason = reason.code in {"late_order", "app_issue", "tablet_offline"}
        priority = (Priority.URGENT if vip and urgent_reason else Priority.HIGH
                    if vip or urgent_reason else Priority.NORMAL)

        metadata = _channel_metadata(rng, channel, contact)
        messages = []
        at = opened_at
        inbound = [line.format(**words) for line in reason.inbound]
        outbound = [line.format(**words) for line in reason.outbound]
        # On a call the agent talks: what they write down is a note (a call has no written replies).
        says = MessageDirection.NOTE if channel == Channel.VOICE else MessageDirection.OUTBOUND
        if channel == Channel.VOICE:
            inbound = [f"Call from {contact.phone}. {inbound[0]}"]
        messages.append(MessagePlan(MessageDirection.INBOUND, inbound[0], at, None, metadata))
        answered_by, transfer = assignee, None
        if assignee is not None and past:
            wait = answer_wait(rng, channel=channel, target=target)
            others = [username for username in able if username != assignee]
            if others and rng.random() < TRANSFER_SHARE:
                answered_by = rng.choice(others)  # they answer first, then pass it to the assignee
            at += timedelta(seconds=wait) + _reply_delay(rng, channel)
        elif assignee is not None:
            at += timedelta(minutes=rng.uniform(0.5, 8))
        if assignee is not None:
            messages.append(MessagePlan(says, outbound[0], at, answered_by, {}, inserted=(
                (f"macro:{reason.macro}",) if reason.macro and says == MessageDirection.OUTBOUND else ())))
            if answered_by != assignee:
                transfer = (assignee, at + timedelta(seconds=rng.uniform(10, 30)))
            for line in inbound[1:]:
                at += timedelta(minutes=rng.uniform(1, 30))
                messages.append(MessagePlan(MessageDirection.INBOUND, line, at, None, metadata))
                at += timedelta(minutes=rng.uniform(0.5, 5))
                messages.append(MessagePlan(
                    says, "Thanks, I am on it.", at, assignee, {}))
            if rng.random() < 0.2:
                at += timedelta(minutes=rng.uniform(0.5, 3))
                messages.append(MessagePlan(
                    MessageDirection.NOTE, f"Contact reason: {reason.code}.", at, assignee, {}))
        status_changes = []
        if work:  # abandoned
            status_changes.append((ConversationStatus.CLOSED, work[0].ended_at))
        elif past:
            at += timedelta(minutes=rng.uniform(1, 20))
            status_changes.append((ConversationStatus.RESOLVED, at))
            work.append(answered_work(
                rng, queue_key=queue_key, target=target, enqueued_at=opened_at, wait=wait, agent=answered_by,
                others=[username for username in able if username not in (answered_by, assignee)],
                ended_at=min(at, now),
                transfer=transfer))
            if channel != Channel.VOICE and now - opened_at > timedelta(days=3) and rng.random() < REOPEN_SHARE:
                at = _reopen(rng, at, channel=channel, agent=assignee, says=says, metadata=metadata,
                             messages=messages, status_changes=status_changes, work=work)
            if status == ConversationStatus.CLOSED:
                status_changes.append((ConversationStatus.CLOSED, at + timedelta(days=1)))
        elif status == ConversationStatus.PENDING:
            status_changes.append((ConversationStatus.PENDING, at + timedelta(minutes=1)))
        plan.conversations.append(ConversationPlan(
            channel=channel, status=status, reason=reason.code,
            subject=reason.subject.format(**words), priority=priority, assignee=assignee,
            opened_at=opened_at, messages=messages,
            status_changes=[(s, min(t, now)) for s, t in status_changes], work=work,
        ))


def _reply_delay(rng: random.Random, channel: str) -> timedelta:
    """From the agent taking the work to their first reply."""
    return timedelta(minutes=rng.uniform(2, 15)) if channel == Channel.EMAIL else timedelta(
        seconds=rng.uniform(15, 90))


def _reopen(rng: random.Random, resolved_at: datetime, *, channel: str, agent: str, says: str, metadata: dict,
            messages: list[MessagePlan], status_changes: list, work: list[WorkPlan]) -> datetime:
    """The contact writes again after the resolution: the conversation reopens, goes back to its
    agent through routing and is resolved again; when (the new resolution)."""
    reopened_at = resolved_at + timedelta(hours=rng.uniform(1, 24))
    messages.append(MessagePlan(MessageDirection.INBOUND, REOPEN_INBOUND, reopened_at, None, metadata))
    status_changes.append((ConversationStatus.OPEN, reopened_at))
    queue_key, target = work[0].queue_key, work[0].target_seconds
    wait = answer_wait(rng, channel=channel, target=target)
    replied_at = reopened_at + timedelta(seconds=wait) + _reply_delay(rng, channel)
    messages.append(MessagePlan(says, REOPEN_OUTBOUND, replied_at, agent, {}))
    resolved_again = replied_at + timedelta(minutes=rng.uniform(1, 20))
    status_changes.append((ConversationStatus.RESOLVED, resolved_again))
    # A reopened conversation goes back to its last agent first: nobody else is offered it.
    work.append(answered_work(rng, queue_key=queue_key, target=target, enqueued_at=reopened_at, wait=wait,
                              agent=agent, others=(), ended_at=resolved_again))
    return resolved_again


def _channel_metadata(rng: random.Random, channel: str, contact: Contact) -> dict:
    if channel == Channel.EMAIL:
        return {"from": contact.email}
    if channel == Channel.MESSAGING:
        return {"provider": rng.choice(MESSAGING_PROVIDERS), "from": contact.phone}
    if channel == Channel.VOICE:
        return {"from": contact.phone, "duration_seconds": rng.randint(40, 900)}
    return {}
