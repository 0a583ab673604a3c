"""Routing for the demo: queues per chat language, VIP, couriers, email, and the rules that fill them."""

from __future__ import annotations

from typing import Any

from routing import services as routing
from routing.models import Queue, RoutingRule, Strategy
from routing.rules import ConditionRow
from supportdesk.demo.agents import CHAT_LANGUAGES


def demo_routing_ensure() -> None:
    """Queues per chat language, a VIP queue, a courier queue and an email queue, and the
    rules that fill them, first match wins. Existing rows keep a supervisor's edits; new
    ones are written through routing's own saves (checked, audited as the system, routing
    rebuilt after commit), as a supervisor's would be."""
    general = _queue_ensure(key="general", name="General")
    for language in CHAT_LANGUAGES:
        _queue_ensure(key=f"chat.{language}", name=f"Chat ({language})", priority=50, target_wait_seconds=60,
                      overflow_queue=general, overflow_after_seconds=300)
    _queue_ensure(key="vip", name="High-value customers", priority=90, target_wait_seconds=30,
                  required_skills=["vip"], min_agent_tier=2, strategy=Strategy.MOST_SPARE_CAPACITY)
    _queue_ensure(key="couriers", name="Couriers on the road", priority=80, target_wait_seconds=20,
                  assign_directly=True)
    _queue_ensure(key="email", name="Email", priority=20, target_wait_seconds=4 * 3600)
    # Each row is its own group: all of them must hold. Values as a supervisor types them.
    rules = (
        ("High-value customers", 10, [
            ("contact_kind", "eq", "customer"),
            ("lifetime_order_value", "gte", "1000"),
            ("channel", "in", "chat, messaging, voice"),
        ], "vip", 10),
        ("Couriers", 20, [("contact_kind", "eq", "courier")], "couriers", 5),
        ("Email", 30, [("channel", "eq", "email")], "email", None),
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
