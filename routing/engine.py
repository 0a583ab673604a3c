"""The routing decision as pure functions over plain data: no database, no Django.

The services around it (issue 3) load and lock rows, call these, and save the outcome.

- `rule_match`: the first rule (in order) whose condition holds sets the queue (a key
  template such as "chat.{language}"), the priority and the skills an item needs.
- `agents_rank`: the agents eligible for an item, best first, by the queue's strategy.
- `item_pick`: what an agent with free capacity should take next from the queues they serve.
- `presence_durations`: the seconds an agent spent in each presence over a window, from
  their presence log (the specification of `routing.selectors.presence_seconds`' SQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from supportdesk.conditions import condition_matches, template_render

ONLINE = "online"
STRATEGIES = ("most_spare_capacity", "longest_idle", "round_robin")


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Mapping[str, Any]
    queue_key: str  # a template filled from the item's attributes
    priority: int | None = None  # None keeps the item's own
    skills: frozenset[str] = frozenset()  # required
    optional_skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RuleMatch:
    rule: str
    queue_key: str
    priority: int | None
    skills: frozenset[str]
    optional_skills: frozenset[str] = frozenset()


def rule_match(rules: Sequence[Rule], attributes: Mapping[str, Any]) -> RuleMatch | None:
    """The first rule that holds for these attributes and whose queue key can be filled."""
    for rule in rules:
        if not condition_matches(rule.condition, attributes):
            continue
        queue_key = template_render(rule.queue_key, attributes)
        if queue_key is None:
            continue  # "chat.{language}" for an item without a language: try the next rule
        return RuleMatch(rule=rule.name, queue_key=queue_key, priority=rule.priority,
                         skills=rule.skills, optional_skills=rule.optional_skills)
    return None


@dataclass(frozen=True)
class Agent:
    id: int
    presence: str
    languages: frozenset[str]
    contact_kinds: frozenset[str]
    skills: frozenset[str]
    capacity: Mapping[str, int]  # per channel
    load: Mapping[str, int]  # open items per channel
    last_assigned_at: datetime | None = None
    tier: int = 1

    def spare(self, channel: str) -> int:
        return self.capacity.get(channel, 0) - self.load.get(channel, 0)


@dataclass(frozen=True)
class Item:
    id: int
    channel: str
    language: str
    contact_kind: str
    priority: int
    enqueued_at: datetime
    required_skills: frozenset[str] = frozenset()
    optional_skills: frozenset[str] = frozenset()  # wanted, but relaxed after a timeout
    optional_relaxed: bool = False
    min_tier: int = 1
    declined_by: frozenset[int] = field(default_factory=frozenset)


def agent_eligible(agent: Agent, item: Item) -> bool:
    """Online, with room on the item's channel, speaking its language, serving its kind of
    contact, of the queue's tier or above, holding its required skills (and optional ones
    until they are relaxed), and not having declined it."""
    skills = item.required_skills | (frozenset() if item.optional_relaxed else item.optional_skills)
    return (agent.presence == ONLINE and agent.spare(item.channel) > 0
            and item.language in agent.languages and item.contact_kind in agent.contact_kinds
            and agent.tier >= item.min_tier and skills <= agent.skills
            and agent.id not in item.declined_by)


def spare_permille(spare: int, capacity: int) -> int:
    """Spare capacity as a share, in whole thousandths: what the slot index stores and
    orders by, so shares closer than that tie (and go to the longest idle) in both."""
    return max(spare, 0) * 1000 // capacity if capacity else 0


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def agents_rank(agents: Iterable[Agent], item: Item, *, strategy: str) -> list[Agent]:
    """The eligible agents for the item, best first; ties go to the lower id."""
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}.")
    eligible = [agent for agent in agents if agent_eligible(agent, item)]

    def idle_key(agent: Agent) -> tuple:
        # Longest idle first: no assignment yet beats any time. The time itself, not a float
        # timestamp, which loses the microseconds the database orders by.
        last = agent.last_assigned_at
        return (last is not None, last or _EPOCH, agent.id)

    if strategy == "most_spare_capacity":
        def key(agent: Agent) -> tuple:
            return (-spare_permille(agent.spare(item.channel), agent.capacity[item.channel]), *idle_key(agent))
    else:
        # Round robin over the eligible agents is "the one served longest ago", which is
        # what longest idle orders by too: the services record one last assignment per
        # agent and channel, so the two rank alike. (A rotation per queue would make every
        # claim in a queue write the same row, serialising them.)
        key = idle_key
    return sorted(eligible, key=key)


@dataclass(frozen=True)
class Waiting:
    item: Item
    queue_priority: int  # 1-100, higher first


def item_pick(agent: Agent, waiting: Iterable[Waiting]) -> Item | None:
    """The best waiting item this agent may take: queue priority, then item priority, then
    longest wait."""
    candidates = [w for w in waiting if agent_eligible(agent, w.item)]
    if not candidates:
        return None
    best = min(candidates, key=lambda w: (-w.queue_priority, -w.item.priority,
                                          w.item.enqueued_at, w.item.id))
    return best.item


# --- time in each presence -----------------------------------------------------------------------


def presence_durations(changes: Iterable[tuple[datetime, str]], *, start: datetime,
                       stop: datetime) -> dict[str, float]:
    """Seconds in each presence between `start` and `stop`, from one agent's presence log:
    (at, presence) changes in the order they were written. From a change's moment the agent
    is in its presence until the next change (or `stop`); before their first change nothing
    is known, so nothing is counted. Presences with no time are left out."""
    ordered = sorted(changes, key=lambda change: change[0])  # stable: equal times keep their order
    totals: dict[str, float] = {}
    for position, (at, presence) in enumerate(ordered):
        until = ordered[position + 1][0] if position + 1 < len(ordered) else stop
        seconds = (min(until, stop) - max(at, start)).total_seconds()
        if seconds > 0:
            totals[presence] = totals.get(presence, 0.0) + seconds
    return totals
