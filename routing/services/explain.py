"""The dry run: what routing would do with an item, changing nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from django.utils import timezone

from routing import engine, selectors
from routing.models import (
    AgentProfile,
    AgentSlot,
    WorkItem,
)
from routing.services import claims, config


def route_explain(*, channel: str, attributes: Mapping[str, Any], priority: int = 0,
                  limit: int = 20) -> tuple[config.Route, engine.Item, list[engine.Agent]]:
    """The dry run: the route and the ranked eligible agents, changing nothing."""
    values = config.attributes_normalise(channel=channel, attributes=attributes)
    route = config.route_find(attributes=values, priority=priority, write=False)
    item = WorkItem(
        channel=channel, language=values["language"], contact_kind=values["contact_kind"],
        priority=route.priority, required_skills=sorted(route.required_skills),
        optional_skills=sorted(route.optional_skills - route.required_skills),
        min_agent_tier=route.queue.min_agent_tier, enqueued_at=timezone.now(),
    )
    ids = claims.slot_candidates(item, strategy=route.queue.strategy, limit=limit)
    profiles = AgentProfile.objects.in_bulk(ids)
    loads = selectors.agents_load(agent_ids=ids)
    # Idle time is per channel (see _slots_channel_update): rank by what the matcher reads.
    idle_since = dict(AgentSlot.objects.filter(
        agent_id__in=ids, channel=item.channel, language=item.language, contact_kind=item.contact_kind,
    ).values_list("agent_id", "last_assigned_at"))
    agents = [replace(claims.engine_agent(profiles[agent_id], loads.get(agent_id, {})),
                      last_assigned_at=idle_since.get(agent_id))
              for agent_id in ids if agent_id in profiles]
    ranked = engine.agents_rank(agents, claims.engine_item(item), strategy=route.queue.strategy)
    return route, claims.engine_item(item), ranked
