"""Agents' presence: set by the agent, kept by heartbeats, expired when they stop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from routing import push
from routing.models import (
    HELD_STATES,
    AgentProfile,
    ItemState,
    Presence,
    WorkItem,
)
from routing.services import claims, events, matching
from supportdesk.errors import DomainError


def presence_apply(profile: AgentProfile, presence: str, *, now: datetime, reassign: bool,
                   reason: str = "") -> None:
    """Set a locked agent's presence; offline (or away with reassignment) returns their open
    items to the queue, away returns the offers they have not answered."""
    previous = profile.presence
    profile.presence = presence
    profile.presence_since = now if presence != previous else profile.presence_since
    if presence == Presence.ONLINE:
        profile.last_heartbeat_at = now
        profile.missed_offers = 0
    profile.save(update_fields=["presence", "presence_since", "last_heartbeat_at", "missed_offers"])
    claims.agent_slots_rebuild(profile)
    if presence != previous:
        push.presence_changed(user_id=profile.user_id, presence=presence, reason=reason)
    if presence == Presence.ONLINE:
        matching.agent_pull(profile, now=now)
        return
    states = HELD_STATES if presence == Presence.OFFLINE or reassign else (ItemState.OFFERED,)
    returned = list(WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("queue").filter(agent_id=profile.pk, state__in=states))
    for item in returned:
        kind = "requeued" if item.state == ItemState.ASSIGNED else "withdrawn"
        claims.release(item, now=now, kind=kind, reason=reason or f"agent {presence}")
    for item in returned:
        matching.item_match(item, now=now)


def presence_set(*, user: Any, presence: str, reassign: bool = False) -> AgentProfile:
    if presence not in Presence.values:
        raise DomainError(f"Unknown presence {presence!r}; use one of {', '.join(Presence.values)}.",
                          code="unknown_presence")
    profile = claims.agent_of(user)
    with transaction.atomic(), events.unit_of_work():
        # Items first, then the agent: the order every other path locks in.
        list(WorkItem.objects.select_for_update(of=("self",))
             .filter(agent_id=profile.pk, state__in=HELD_STATES).values_list("id", flat=True))
        profile = claims.agent_lock(profile.pk, skip_locked=False)
        presence_apply(profile, presence, now=timezone.now(), reassign=reassign)
    return profile


def heartbeat(*, user: Any) -> AgentProfile:
    """The agent's browser is still there. Heartbeats that stop set the agent offline."""
    profile = claims.agent_of(user)
    AgentProfile.objects.filter(pk=profile.pk).update(last_heartbeat_at=timezone.now())
    profile.refresh_from_db(fields=["presence", "last_heartbeat_at"])
    return profile


def agents_heartbeat_expire() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.ROUTING_HEARTBEAT_TIMEOUT_SECONDS)
    ids = list(AgentProfile.objects.exclude(presence=Presence.OFFLINE)
               .filter(Q(last_heartbeat_at__lt=cutoff) | Q(last_heartbeat_at__isnull=True))
               .values_list("id", flat=True)[:500])
    expired = 0
    for agent_id in ids:
        with transaction.atomic(), events.unit_of_work():
            list(WorkItem.objects.select_for_update(of=("self",))
                 .filter(agent_id=agent_id, state__in=HELD_STATES).values_list("id", flat=True))
            profile = claims.agent_lock(agent_id, skip_locked=True)
            if profile is None or profile.presence == Presence.OFFLINE or (
                    profile.last_heartbeat_at and profile.last_heartbeat_at >= cutoff):
                continue
            presence_apply(profile, Presence.OFFLINE, now=timezone.now(), reassign=True,
                            reason="no heartbeat")
            expired += 1
    return expired
