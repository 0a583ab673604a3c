"""The two sides of the match: a waiting item looks for the best agent with room
(`item_match`), and an agent with room pulls the best waiting items (`agent_pull`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, Q

from routing import engine, service_levels
from routing.models import (
    CHANNELS,
    AgentProfile,
    ItemState,
    Presence,
    WorkItem,
)
from routing.models import WorkItemEventKind as EventKind
from routing.services import claims, events, items, sla
from routing.services.config import CANDIDATES


def item_match(item: WorkItem, *, now: datetime, preferred_agent_id: int | None = None) -> bool:
    """Offer or assign a locked waiting item to the best eligible agent with room.

    Its service-level steps due by now (escalation, relaxed skills, overflow, breach) are
    applied first, so what it needs is what the sweep would have made it. When nobody has
    room, offers past their timeout on its channel are expired and the match tried again:
    with the beat down they would otherwise hold the agents' room for ever."""
    sla.sla_catch_up(item, now=now)
    if preferred_agent_id is not None and preferred_agent_id not in claims.decliners_kept_out(item, now=now):
        profile, held = claims.agent_lock_room(preferred_agent_id, item.channel, now=now)
        if held is not None and engine.agent_eligible(claims.engine_agent(profile, {}),
                                                      claims.engine_item(item, now=now)):
            claims.claim(item, profile, now=now, held=held)
            return True
    return _match_rounds(item, now=now) or (
        items.offers_lapse(now=now, channel=item.channel) > 0 and _match_rounds(item, now=now))


def _match_rounds(item: WorkItem, *, now: datetime) -> bool:
    """The best agent with room, a few candidates at a time: those another worker holds
    are skipped, and one found without room (its slot not yet refreshed) is passed over."""
    tried: list[int] = []
    # At most three candidate lists' worth of agents: they may be taken by other workers meanwhile.
    while len(tried) < 3 * CANDIDATES:
        profile, held, candidates = claims.agent_lock_best(item, strategy=item.queue.strategy, exclude=tried,
                                                           now=now)
        if not candidates:
            return False
        if profile is None:  # every candidate read is held by another worker: the next ones
            tried += candidates
            continue
        tried.append(profile.pk)
        if held is not None:
            claims.claim(item, profile, now=now, held=held)
            return True
    return False


def _waiting_for(profile: AgentProfile, channel: str, *, now: datetime, exclude: Iterable[int] = ()) -> list[int]:
    """Waiting item ids this agent may take on a channel, best first.

    An item is seen as its due service-level steps will make it once locked (see
    `sla.sla_catch_up`): optional skills relaxed after the queue's relax wait or at escalation,
    and escalation forgetting who declined it, so a desk without its beat still serves it."""
    skills = list(profile.skills)
    escalation_due = Q(escalated_at__isnull=True) & service_levels.due_by(EventKind.ESCALATED, now)
    relax_due = service_levels.due_by(EventKind.RELAXED, now)  # never, where the queue sets no relax wait
    waiting = WorkItem.objects.filter(
        state=ItemState.WAITING, channel=channel, language__in=profile.languages,
        contact_kind__in=profile.contact_kinds, min_agent_tier__lte=profile.tier,
        required_skills__contained_by=skills,
    ).filter(Q(optional_relaxed=True) | Q(optional_skills__contained_by=skills) | relax_due | escalation_due
             ).filter(~Q(declined_by__contains=[profile.pk]) | escalation_due | claims.decline_pause_over(now))
    if exclude:
        waiting = waiting.exclude(pk__in=list(exclude))
    order = (F("queue_priority").desc(), F("priority").desc(), "enqueued_at", "id")
    return list(waiting.order_by(*order).values_list("id", flat=True)[:CANDIDATES])


def agent_pull(profile: AgentProfile, *, now: datetime, channels: Iterable[str] = CHANNELS) -> int:
    """A locked agent with room takes the best waiting items from the queues they serve,
    until full or nothing fits. Returns how many items they took.

    After an item leaves an agent only its channel gained room, so only that channel is
    looked at; coming online (or new settings) looks at every channel."""
    if profile.presence != Presence.ONLINE:
        return 0
    taken = 0
    for channel in channels:
        tried: list[int] = []
        lapsed_looked = False
        while (held := claims.room(profile, channel, now=now)) is not None:
            candidates = _waiting_for(profile, channel, now=now, exclude=tried)
            if not candidates:
                # Offers other agents let time out may be what is left for this one: with
                # the beat down nobody else would expire them.
                if not lapsed_looked and items.offers_lapse(now=now, channel=channel):
                    lapsed_looked = True
                    continue
                break
            claimed = False
            for item_id in candidates:
                tried.append(item_id)
                item = (WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                        .select_related("queue").filter(pk=item_id, state=ItemState.WAITING).first())
                if item is None:
                    continue
                # Listed as its due steps would make it; checked as they did make it.
                applied = sla.sla_catch_up(item, now=now)
                if not engine.agent_eligible(claims.engine_agent(profile, {}), claims.engine_item(item, now=now)):
                    if applied:
                        events.rematch_later(item)  # it moved on (overflowed) beyond this agent's reach
                    continue
                claims.claim(item, profile, now=now, held=held)
                taken += 1
                claimed = True
                break
            if not claimed and len(candidates) < CANDIDATES:
                break
    return taken
