"""Routing for the demo: queues per chat language, VIP, couriers, email (kept to office hours),
and the rules that fill them."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any

from django.utils import timezone

from conversations.models import Channel
from routing import services as routing
from routing.models import BusinessHours, Queue, RoutingRule, Strategy
from routing.rules import ConditionRow
from supportdesk.demo.agents import CHAT_LANGUAGES
from supportdesk.demo.common import COURIER, CUSTOMER

GENERAL, VIP, COURIERS, EMAIL = "general", "vip", "couriers", "email"
VIP_LIFETIME_VALUE = Decimal("1000")
VIP_CHANNELS = (Channel.CHAT, Channel.MESSAGING, Channel.VOICE)
_DEFAULT_TARGET = Queue._meta.get_field("target_wait_seconds").default
# What the queues are created with, and what the demo's history is drawn against.
TARGET_WAIT_SECONDS = {GENERAL: _DEFAULT_TARGET, "chat": 60, VIP: 30, COURIERS: 20, EMAIL: 4 * 3600}
OFFER_TIMEOUT_SECONDS = Queue._meta.get_field("offer_timeout_seconds").default  # the demo's queues keep it
DIRECT_QUEUES = frozenset({COURIERS})  # assigned without an offer


def demo_queue_key(*, channel: str, language: str, contact_kind: str, lifetime_order_value: Decimal) -> str:
    """The queue the demo's rules (below, first match wins) give a conversation, as plain data for
    the plans of its history; a test holds it to what routing's own `route_find` answers."""
    if contact_kind == CUSTOMER and lifetime_order_value >= VIP_LIFETIME_VALUE and channel in VIP_CHANNELS:
        return VIP
    if contact_kind == COURIER:
        return COURIERS
    if channel == Channel.EMAIL:
        return EMAIL
    if channel in (Channel.CHAT, Channel.MESSAGING) and language in CHAT_LANGUAGES:
        return f"chat.{language}"
    return GENERAL  # no rule matches: routing's default queue


def target_wait_seconds(queue_key: str) -> int:
    return TARGET_WAIT_SECONDS["chat" if queue_key.startswith("chat.") else queue_key]


def demo_routing_ensure() -> None:
    """Queues per chat language, a VIP queue, a courier queue and an email queue, and the
    rules that fill them, first match wins. Existing rows keep a supervisor's edits; new
    ones are written through routing's own saves (checked, audited as the system, routing
    rebuilt after commit), as a supervisor's would be."""
    general = _queue_ensure(key=GENERAL, name="General")
    for language in CHAT_LANGUAGES:
        _queue_ensure(key=f"chat.{language}", name=f"Chat ({language})", priority=50,
                      target_wait_seconds=TARGET_WAIT_SECONDS["chat"], overflow_queue=general,
                      overflow_after_seconds=300)
    _queue_ensure(key=VIP, name="High-value customers", priority=90, target_wait_seconds=TARGET_WAIT_SECONDS[VIP],
                  required_skills=["vip"], min_agent_tier=2, strategy=Strategy.MOST_SPARE_CAPACITY)
    _queue_ensure(key=COURIERS, name="Couriers on the road", priority=80,
                  target_wait_seconds=TARGET_WAIT_SECONDS[COURIERS], assign_directly=COURIERS in DIRECT_QUEUES)
    email = _queue_ensure(key=EMAIL, name="Email", priority=20, target_wait_seconds=TARGET_WAIT_SECONDS[EMAIL])
    office = _office_hours_ensure()
    if office is not None and email.business_hours_id is None:
        # Only on the hours' first seed: a supervisor who took them off the queue keeps it so.
        email.business_hours = office
        routing.queue_save(queue=email, actor=None)
    # Each row is its own group: all of them must hold. Values as a supervisor types them.
    rules = (
        ("High-value customers", 10, [
            ("contact_kind", "eq", CUSTOMER),
            ("lifetime_order_value", "gte", str(VIP_LIFETIME_VALUE)),
            ("channel", "in", ", ".join(VIP_CHANNELS)),
        ], VIP, 10),
        ("Couriers", 20, [("contact_kind", "eq", COURIER)], COURIERS, 5),
        ("Email", 30, [("channel", "eq", "email")], EMAIL, None),
        ("Chat and messaging by language", 40, [("channel", "in", "chat, messaging")], "chat.{language}", None),
    )
    for name, position, rows, queue_key, priority in rules:
        if RoutingRule.objects.filter(name=name).exists():
            continue
        routing.rule_save(
            rule=RoutingRule(name=name, position=position, queue_key=queue_key, priority=priority), actor=None,
            rows=[ConditionRow(group=group, attribute=attribute, op=op, value=value)
                  for group, (attribute, op, value) in enumerate(rows)],
        )


def _queue_ensure(*, key: str, **values: Any) -> Queue:
    queue = Queue.objects.filter(key=key).first()
    return queue if queue is not None else routing.queue_save(queue=Queue(key=key, **values), actor=None)


OFFICE_HOURS = "Office hours (Madrid)"
# Spain's national holidays on fixed dates (Easter moves: a supervisor adds it).
SPANISH_HOLIDAYS = ((1, 1, "New Year's Day"), (1, 6, "Epiphany"), (5, 1, "Labour Day"), (8, 15, "Assumption"),
                    (10, 12, "National Day"), (11, 1, "All Saints' Day"), (12, 6, "Constitution Day"),
                    (12, 8, "Immaculate Conception"), (12, 25, "Christmas Day"))


def _office_hours_ensure() -> BusinessHours | None:
    """Office hours for the email queue, weekdays 09:00-18:00 in Madrid with this year's and
    next year's holidays, so the demo shows business hours (its email deadlines count office
    time) while the chat queues stay open whenever someone tries the widget. None when they
    exist already."""
    if BusinessHours.objects.filter(name=OFFICE_HOURS).exists():
        return None
    year = timezone.now().year
    return routing.business_hours_save(
        hours=BusinessHours(name=OFFICE_HOURS, time_zone="Europe/Madrid"), actor=None,
        intervals=[routing.IntervalRow(weekday=day, opens_at=time(9), closes_at=time(18)) for day in range(5)],
        holidays=[routing.HolidayRow(date=date(when, month, day), name=name)
                  for when in (year, year + 1) for month, day, name in SPANISH_HOLIDAYS],
    )
