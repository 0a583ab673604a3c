"""Who changed a queue, a routing rule, an agent's routing settings or business hours: one
writer, one snapshot.

Supervisors' edits change who gets which work, so each one leaves a `RoutingAudit` row with
the settings before and after. `routing_snapshot` says what the settings of an object are
(for a rule, its condition rows too; for business hours, their intervals and holidays);
`audit_record` writes the row.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from routing.hours_models import clock_text
from routing.models import AgentProfile, BusinessHours, Queue, RoutingAudit, RoutingRule

# The settings supervisors edit, which the audit records; the admin forms edit these.
QUEUE_SETTINGS = (
    "key", "name", "priority", "strategy", "target_wait_seconds", "required_skills", "optional_skills",
    "relax_optional_after_seconds", "min_agent_tier", "assign_directly", "offer_timeout_seconds",
    "escalate_at_percent", "escalation_priority_boost", "overflow_queue", "overflow_after_seconds",
    "business_hours", "is_active",
)
RULE_SETTINGS = ("name", "position", "is_active", "queue_key", "priority", "required_skills",
                 "optional_skills")
AGENT_SETTINGS = ("user", "languages", "contact_kinds", "skills", "tier", "capacity", "no_chats_on_call")
HOURS_SETTINGS = ("name", "time_zone")

_SETTINGS: dict[type[models.Model], tuple[str, ...]] = {
    Queue: QUEUE_SETTINGS, RoutingRule: (*RULE_SETTINGS, "condition"), AgentProfile: AGENT_SETTINGS,
    BusinessHours: HOURS_SETTINGS,
}
_CONDITION_ROW = ("group", "attribute", "op", "value", "position")


def routing_snapshot(obj: Queue | RoutingRule | AgentProfile | BusinessHours) -> dict[str, Any]:
    """The object's routing settings as JSON: related objects by their name (a queue's key,
    a user's username), a rule's condition rows in order, business hours' intervals (as
    HH:MM, 24:00 for midnight at the end of the day) and holidays in order."""
    snapshot: dict[str, Any] = {}
    for name in _SETTINGS[type(obj)]:
        field = obj._meta.get_field(name)
        if field.is_relation:
            related = getattr(obj, name)
            snapshot[name] = None if related is None else (
                related.get_username() if hasattr(related, "get_username") else str(related))
        else:
            value = getattr(obj, name)
            snapshot[name] = list(value) if isinstance(value, tuple | list) else value
    if isinstance(obj, RoutingRule) and obj.pk is not None:
        snapshot["conditions"] = list(obj.conditions.order_by("group", "position", "id").values(*_CONDITION_ROW))
    if isinstance(obj, BusinessHours) and obj.pk is not None:
        snapshot["intervals"] = [
            {"weekday": row.weekday, "opens": clock_text(row.opens_at),
             "closes": clock_text(row.closes_at, closing=True)}
            for row in obj.intervals.order_by("weekday", "opens_at", "id")]
        snapshot["holidays"] = [{"date": row.date.isoformat(), "name": row.name}
                                for row in obj.holidays.order_by("date", "id")]
    return snapshot


def audit_record(*, actor: Any, obj: models.Model, instance_before: dict[str, Any] | None,
                 instance_after: dict[str, Any] | None) -> RoutingAudit | None:
    """Record a create (nothing before), a delete (nothing after) or a change; a save that
    changed nothing records nothing. For a delete, call it before the row goes: it names
    the object by its id."""
    if instance_before is not None and instance_before == instance_after:
        return None
    action = "created" if instance_before is None else "deleted" if instance_after is None else "changed"
    user = actor if getattr(actor, "pk", None) is not None else None
    return RoutingAudit.objects.create(
        model=obj._meta.label_lower, object_id=str(obj.pk), object_repr=str(obj)[:200], action=action,
        actor=user, actor_label=user.get_username() if user is not None else "system",
        before=instance_before, after=instance_after,
    )
