"""Agents' presence: set by the agent or a supervisor, kept by heartbeats, expired when they
stop; every change recorded in the presence log by `presence_record`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from routing import push
from routing.models import (
    HELD_STATES,
    PRESENCE_STREAM,
    AgentPresenceChange,
    AgentProfile,
    ItemState,
    Presence,
    PresenceReason,
    WorkItem,
)
from routing.models import WorkItemEventKind as EventKind
from routing.services import claims, events, matching
from supportdesk.errors import DomainError
from supportdesk.outbox import outbox_bulk_create

# What the history of an item returned to its queue says of why (the words it said before
# the presence log had reasons).
_RETURNED_BECAUSE = {PresenceReason.HEARTBEAT_LOST: "no heartbeat", PresenceReason.MISSED_OFFERS: "missed offers"}


def presence_record(*, profile: AgentProfile, presence: str, now: datetime, reason: str,
                    save_fields: Iterable[str] = ()) -> bool:
    """The one place an agent's presence changes: set it (and `presence_since`) on the
    profile and its row, with `save_fields` the caller changed on the profile in the same
    UPDATE, and append the change to the presence log (with its outbox entries, in the same
    transaction). Whether the presence changed; the same presence again writes no log row.

    The caller holds the profile's row lock, or knows nobody else writes it (the demo)."""
    if presence not in Presence.values:
        raise ValueError(f"Unknown presence {presence!r}")
    reason = PresenceReason(reason).value  # a ValueError for any other: the log's readers know only these
    previous = profile.presence
    changed = presence != previous
    fields = list(save_fields)
    # A use case may have read its clock before it waited for the agent's lock, behind a change
    # stamped later: the log stays in the order of the changes.
    at = max(now, profile.presence_since) if profile.presence_since else now
    if changed:
        profile.presence, profile.presence_since = presence, at
        fields += ["presence", "presence_since"]
    if not fields:
        return False
    with transaction.atomic(savepoint=False):
        profile.save(update_fields=fields)
        if changed:
            outbox_bulk_create([AgentPresenceChange(agent_id=profile.pk, presence=presence, previous=previous,
                                                    at=at, reason=reason)], stream=PRESENCE_STREAM)
    return changed


def presence_apply(profile: AgentProfile, presence: str, *, now: datetime, reassign: bool,
                   reason: str) -> None:
    """Set a locked agent's presence (`reason`: a `PresenceReason`); offline (or away with
    reassignment) returns their open items to the queue, away returns the offers they have
    not answered."""
    save_fields: list[str] = []
    if presence == Presence.ONLINE:
        profile.last_heartbeat_at = now
        profile.missed_offers = 0
        save_fields = ["last_heartbeat_at", "missed_offers"]
    changed = presence_record(profile=profile, presence=presence, now=now, reason=reason, save_fields=save_fields)
    claims.agent_slots_rebuild(profile)
    if changed:
        push.presence_changed(user_id=profile.user_id, presence=presence, reason=reason)
    if presence == Presence.ONLINE:
        matching.agent_pull(profile, now=now)
        return
    states = HELD_STATES if presence == Presence.OFFLINE or reassign else (ItemState.OFFERED,)
    returned = list(WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("queue").filter(agent_id=profile.pk, state__in=states))
    because = _RETURNED_BECAUSE.get(reason, f"agent {presence}")
    for item in returned:
        kind = EventKind.REQUEUED if item.state == ItemState.ASSIGNED else EventKind.WITHDRAWN
        claims.release(item, now=now, kind=kind, reason=because)
    for item in returned:
        matching.item_match(item, now=now)


def presence_set(*, user: Any, presence: str, reassign: bool = False,
                 reason: str = PresenceReason.AGENT) -> AgentProfile:
    """Set the user's own presence (`reason`: a supervisor's doing is `PresenceReason.SUPERVISOR`)."""
    if presence not in Presence.values:
        raise DomainError(f"Unknown presence {presence!r}; use one of {', '.join(Presence.values)}.",
                          code="unknown_presence")
    profile = claims.agent_of(user)
    with transaction.atomic(), events.unit_of_work():
        # Items first, then the agent: the order every other path locks in.
        list(WorkItem.objects.select_for_update(of=("self",))
             .filter(agent_id=profile.pk, state__in=HELD_STATES).values_list("id", flat=True))
        profile = claims.agent_lock(profile.pk, skip_locked=False)
        presence_apply(profile, presence, now=timezone.now(), reassign=reassign, reason=reason)
    return profile


def heartbeat(*, user: Any) -> AgentProfile:
    """The agent's browser is still there. Heartbeats that stop set the agent offline."""
    profile = claims.agent_of(user)
    now = timezone.now()
    AgentProfile.objects.filter(pk=profile.pk).update(last_heartbeat_at=now)
    if profile.presence == Presence.ONLINE and WorkItem.objects.filter(
            claims.decline_pause_over(now), state=ItemState.WAITING, declined_by__contains=[profile.pk]).exists():
        # Work they declined that nobody took since is theirs again after the pause: with the
        # beat down nothing else would offer it to them.
        with transaction.atomic(), events.unit_of_work():
            list(WorkItem.objects.select_for_update(of=("self",))
                 .filter(agent_id=profile.pk, state__in=HELD_STATES).values_list("id", flat=True))
            locked = claims.agent_lock(profile.pk, skip_locked=True)
            if locked is not None:  # else another use case has them: the next heartbeat looks again
                matching.agent_pull(locked, now=now)
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
                            reason=PresenceReason.HEARTBEAT_LOST)
            expired += 1
    return expired
