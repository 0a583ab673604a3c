"""Routing for the demo: queues per chat language, VIP, couriers, email, and the rules that fill them."""

from __future__ import annotations

from routing.models import Queue, RoutingRule, Strategy
from supportdesk.demo.agents import CHAT_LANGUAGES


def demo_routing_ensure() -> None:
    """Queues per chat language, a VIP queue, a courier queue and an email queue, and the
    rules that fill them, first match wins. Existing rows keep a supervisor's edits."""
    general, _ = Queue.objects.get_or_create(key="general", defaults={"name": "General"})
    for language in CHAT_LANGUAGES:
        Queue.objects.get_or_create(key=f"chat.{language}", defaults={
            "name": f"Chat ({language})", "priority": 50, "target_wait_seconds": 60,
            "overflow_queue": general, "overflow_after_seconds": 300,
        })
    Queue.objects.get_or_create(key="vip", defaults={
        "name": "High-value customers", "priority": 90, "target_wait_seconds": 30,
        "required_skills": ["vip"], "min_agent_tier": 2, "strategy": Strategy.MOST_SPARE_CAPACITY,
    })
    Queue.objects.get_or_create(key="couriers", defaults={
        "name": "Couriers on the road", "priority": 80, "target_wait_seconds": 20, "assign_directly": True,
    })
    Queue.objects.get_or_create(key="email", defaults={
        "name": "Email", "priority": 20, "target_wait_seconds": 4 * 3600,
    })
    rules = (
        ("High-value customers", 10, {"all": [
            {"attribute": "contact_kind", "op": "eq", "value": "customer"},
            {"attribute": "lifetime_order_value", "op": "gte", "value": 1000},
            {"attribute": "channel", "op": "in", "value": ["chat", "messaging", "voice"]},
        ]}, "vip", 10),
        ("Couriers", 20, {"attribute": "contact_kind", "op": "eq", "value": "courier"}, "couriers", 5),
        ("Email", 30, {"attribute": "channel", "op": "eq", "value": "email"}, "email", None),
        ("Chat and messaging by language", 40,
         {"attribute": "channel", "op": "in", "value": ["chat", "messaging"]}, "chat.{language}", None),
    )
    for name, position, condition, queue_key, priority in rules:
        RoutingRule.objects.get_or_create(name=name, defaults={
            "position": position, "condition": condition, "queue_key": queue_key, "priority": priority,
        })
