"""What follows a supervisor's change to a queue or to an agent's settings."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from routing.models import (
    HELD_STATES,
    ItemState,
    Queue,
    WorkItem,
)
from routing.services import claims, events, matching


def agent_settings_changed(*, profile_id: int) -> None:
    """After a supervisor edits an agent's languages, kinds, skills, tier or capacity:
    rebuild the slots and let the agent take waiting work that now fits."""
    with transaction.atomic(), events.unit_of_work():
        list(WorkItem.objects.select_for_update(of=("self",))
             .filter(agent_id=profile_id, state__in=HELD_STATES).values_list("id", flat=True))
        profile = claims.agent_lock(profile_id, skip_locked=False)
        if profile is None:
            return
        claims.agent_slots_rebuild(profile)
        matching.agent_pull(profile, now=timezone.now())


def queue_changed(*, queue_id: int) -> None:
    """After a supervisor edits a queue: its waiting items take its new priority, tier and
    skills (on top of what their rule added)."""
    queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None:
        return
    table = connection.ops.quote_name(WorkItem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} SET queue_priority = %(priority)s, min_agent_tier = %(tier)s,
                required_skills = ARRAY(SELECT DISTINCT s FROM unnest(
                    array_cat(rule_required_skills, %(required)s::varchar[])) s ORDER BY s),
                optional_skills = ARRAY(SELECT DISTINCT s FROM unnest(
                    array_cat(rule_optional_skills, %(optional)s::varchar[])) s
                    WHERE s <> ALL(array_cat(rule_required_skills, %(required)s::varchar[])) ORDER BY s)
            WHERE queue_id = %(queue)s AND state = %(waiting)s""",
            {"priority": queue.priority, "tier": queue.min_agent_tier,
             "required": sorted(queue.required_skills), "optional": sorted(queue.optional_skills),
             "queue": queue_id, "waiting": ItemState.WAITING},
        )
