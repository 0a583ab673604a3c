"""Agents' time in each presence, from routing's presence log into the agents' counters.

Each change of an agent's presence opens a stretch that the next change ends; a stretch
counts (its seconds split over the hours) once it has ended. A new change for an agent ends
their previous stretch: the consumer works out the stretches of the agents in the batch again,
from the stretch before the earliest new change on, and adds the difference (reports.rollups
does the same for conversations), so a change handled twice or late counts once, in its hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from reports.contributions import Deltas
from reports.models import PresenceFact
from routing.models import AgentPresenceChange

FIELDS = ("agent_id", "presence", "started_at", "ended_at")


def presence_facts(agent_since: dict[int, datetime]) -> list[PresenceFact]:
    """The stretches of each agent from their last change before `since` on (unsaved)."""
    facts: list[PresenceFact] = []
    for agent_id, since in sorted(agent_since.items()):
        before = (AgentPresenceChange.objects.filter(agent_id=agent_id, at__lt=since)
                  .order_by("-at", "-id").values_list("at", flat=True).first())
        rows = list(AgentPresenceChange.objects.filter(agent_id=agent_id, at__gte=before or since)
                    .order_by("at", "id").values_list("id", "presence", "at"))
        for position, (change_id, presence, at) in enumerate(rows):
            ended = rows[position + 1][2] if position + 1 < len(rows) else None
            facts.append(PresenceFact(change_id=change_id, agent_id=agent_id, presence=presence,
                                      started_at=at, ended_at=ended))
    return facts


def presence_replace(facts: list[PresenceFact], deltas: Deltas, *,
                     inside: Callable[[datetime], bool] | None = None, fresh: Deltas | None = None) -> int:
    """Store these stretches in place of the stored ones with their ids, adding the difference
    of their contributions to `deltas` (a rebuild: see reports.rollups._facts_replace)."""
    stored = PresenceFact.objects.filter(change_id__in=[fact.change_id for fact in facts])
    old = {fact.change_id: fact for fact in stored}
    changed = [fact for fact in facts if fact.change_id not in old
               or tuple(getattr(old[fact.change_id], name) for name in FIELDS)
               != tuple(getattr(fact, name) for name in FIELDS)]
    if fresh is None:
        for fact in changed:
            if fact.change_id in old:
                deltas.presence(old[fact.change_id], -1)
            deltas.presence(fact, +1)
    else:
        from reports.rollups import split_rebuild  # noqa: PLC0415 (rollups imports this module)

        outside = Deltas()
        for fact in old.values():
            outside.presence(fact, -1)
        for fact in facts:
            outside.presence(fact, +1)
            fresh.presence(fact, +1)
        split_rebuild(outside, fresh, deltas, inside)
    if changed:
        PresenceFact.objects.bulk_create(changed, update_conflicts=True, unique_fields=["change_id"],
                                         update_fields=list(FIELDS))
    return len(changed)


def agents_since(change_ids: Iterable[int]) -> dict[int, datetime]:
    """For the changes with these ids: each agent's earliest."""
    since: dict[int, datetime] = {}
    for agent_id, at in AgentPresenceChange.objects.filter(pk__in=list(change_ids)).values_list("agent_id", "at"):
        if agent_id not in since or at < since[agent_id]:
            since[agent_id] = at
    return since


def agents_in_range(start: datetime, end: datetime) -> dict[int, datetime]:
    """Every agent who may have a stretch in [start, end) (a change before `end`), from `start`."""
    agents = AgentPresenceChange.objects.filter(at__lt=end).values_list("agent_id", flat=True).distinct()
    return dict.fromkeys(agents, start)
