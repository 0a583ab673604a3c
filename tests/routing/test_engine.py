"""The pure routing engine: rules, eligibility, ranking, picking (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.engine import (
    Agent,
    Item,
    Rule,
    Waiting,
    agent_eligible,
    agents_rank,
    item_pick,
    rule_match,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def agent(id: int, **overrides) -> Agent:
    values = dict(presence="online", languages=frozenset({"es", "en"}),
                  contact_kinds=frozenset({"customer"}), skills=frozenset(),
                  capacity={"chat": 3}, load={"chat": 0}, last_assigned_at=None)
    return Agent(id=id, **{**values, **overrides})


def item(id: int = 1, **overrides) -> Item:
    values = dict(channel="chat", language="es", contact_kind="customer", priority=50,
                  enqueued_at=T0)
    return Item(id=id, **{**values, **overrides})


RULES = [
    Rule("vip", {"all": [{"attribute": "lifetime_value", "op": "gte", "value": 1000},
                         {"attribute": "contact_kind", "op": "eq", "value": "customer"}]},
         "vip.{language}", priority=90, skills=frozenset({"vip"})),
    Rule("couriers", {"attribute": "contact_kind", "op": "eq", "value": "courier"},
         "couriers.{country}"),
    Rule("everyone", {"all": []}, "{channel}.{language}"),
]


@pytest.mark.parametrize(("attributes", "rule", "queue", "priority"), [
    ({"lifetime_value": 2500, "contact_kind": "customer", "language": "es", "channel": "chat"},
     "vip", "vip.es", 90),
    ({"lifetime_value": 20, "contact_kind": "customer", "language": "ko", "channel": "chat"},
     "everyone", "chat.ko", None),
    ({"contact_kind": "courier", "country": "PT", "language": "pt", "channel": "voice"},
     "couriers", "couriers.pt", None),
    # The courier rule holds but cannot fill its key without a country: the next rule does.
    ({"contact_kind": "courier", "language": "pt", "channel": "voice"},
     "everyone", "voice.pt", None),
])
def test_the_first_rule_that_holds_and_fills_its_key_wins(attributes, rule, queue, priority):
    match = rule_match(RULES, attributes)

    assert (match.rule, match.queue_key, match.priority) == (rule, queue, priority)


def test_no_rule_no_match():
    assert rule_match(RULES[:2], {"contact_kind": "partner"}) is None


@pytest.mark.parametrize(("who", "eligible"), [
    (agent(1), True),
    (agent(1, presence="away"), False),
    (agent(1, load={"chat": 3}), False),
    (agent(1, capacity={"email": 5}, load={}), False),
    (agent(1, languages=frozenset({"en"})), False),
    (agent(1, contact_kinds=frozenset({"courier"})), False),
])
def test_eligibility_needs_presence_room_language_and_kind(who, eligible):
    assert agent_eligible(who, item()) is eligible


def test_required_skills_never_relax_and_optional_ones_do():
    plain = agent(1)
    needs_vip = item(required_skills=frozenset({"vip"}))
    wants_vip = item(optional_skills=frozenset({"vip"}))

    assert not agent_eligible(plain, needs_vip)
    assert not agent_eligible(plain, wants_vip)
    assert agent_eligible(plain, Item(**{**wants_vip.__dict__, "optional_relaxed": True}))
    assert not agent_eligible(plain, Item(**{**needs_vip.__dict__, "optional_relaxed": True}))
    assert agent_eligible(agent(2, skills=frozenset({"vip"})), needs_vip)


def test_a_queue_for_senior_agents_skips_juniors():
    senior_only = item(min_tier=2)

    assert not agent_eligible(agent(1, tier=1), senior_only)
    assert agent_eligible(agent(2, tier=2), senior_only) and agent_eligible(agent(3, tier=3), senior_only)


def test_an_agent_who_declined_is_not_offered_the_item_again():
    assert not agent_eligible(agent(7), item(declined_by=frozenset({7})))


def test_strategies_rank_by_spare_capacity_or_by_idle_time():
    busy = agent(1, load={"chat": 2}, last_assigned_at=T0 - timedelta(hours=1))
    free = agent(2, load={"chat": 0}, last_assigned_at=T0)
    fresh = agent(3, load={"chat": 1}, last_assigned_at=None)
    away = agent(4, presence="offline")

    by_spare = agents_rank([busy, free, fresh, away], item(), strategy="most_spare_capacity")
    by_idle = agents_rank([busy, free, fresh, away], item(), strategy="longest_idle")

    assert [a.id for a in by_spare] == [2, 3, 1]
    assert [a.id for a in by_idle] == [3, 1, 2]
    with pytest.raises(ValueError, match="Unknown strategy"):
        agents_rank([free], item(), strategy="random")


def test_an_agent_takes_queue_priority_then_item_priority_then_the_longest_wait():
    old_low = Waiting(item(1, priority=10, enqueued_at=T0 - timedelta(minutes=9)), 50)
    new_high = Waiting(item(2, priority=80, enqueued_at=T0), 50)
    older_high = Waiting(item(3, priority=80, enqueued_at=T0 - timedelta(minutes=1)), 50)
    urgent_queue = Waiting(item(4, priority=1, enqueued_at=T0), 99)
    not_for_me = Waiting(item(5, language="ko"), 100)

    assert item_pick(agent(1), [old_low, new_high, older_high, not_for_me]).id == 3
    assert item_pick(agent(1), [old_low, new_high, urgent_queue, not_for_me]).id == 4
    assert item_pick(agent(1), [not_for_me]) is None


_agents = st.lists(
    st.builds(
        agent, st.integers(1, 50),
        presence=st.sampled_from(["online", "away", "offline"]),
        languages=st.frozensets(st.sampled_from(["es", "en", "ko"]), min_size=1),
        skills=st.frozensets(st.sampled_from(["vip", "refunds"])),
        capacity=st.fixed_dictionaries({"chat": st.integers(1, 3)}),
        load=st.fixed_dictionaries({"chat": st.integers(0, 3)}),
        last_assigned_at=st.none() | st.integers(0, 600).map(lambda s: T0 - timedelta(seconds=s)),
    ),
    max_size=8, unique_by=lambda a: a.id,
)
_items = st.builds(item, language=st.sampled_from(["es", "en", "ko"]),
                   required_skills=st.frozensets(st.sampled_from(["vip", "refunds"]), max_size=1))


@given(agents=_agents, candidate=_items,
       strategy=st.sampled_from(["most_spare_capacity", "longest_idle", "round_robin"]))
def test_ranking_offers_only_eligible_agents_with_room_each_once(agents, candidate, strategy):
    ranked = agents_rank(agents, candidate, strategy=strategy)

    assert {a.id for a in ranked} == {a.id for a in agents if agent_eligible(a, candidate)}
    assert len(ranked) == len({a.id for a in ranked})
    assert all(a.spare("chat") > 0 and a.presence == "online" for a in ranked)


_waiting = st.lists(
    st.builds(Waiting,
              item=st.builds(item, st.integers(1, 40), language=st.sampled_from(["es", "en", "ko"]),
                             priority=st.integers(0, 20),
                             enqueued_at=st.integers(0, 600).map(lambda s: T0 - timedelta(seconds=s)),
                             required_skills=st.frozensets(st.sampled_from(["vip", "refunds"]), max_size=1)),
              queue_priority=st.integers(1, 100)),
    max_size=10, unique_by=lambda w: w.item.id,
)


@given(agents=_agents.filter(bool), waiting=_waiting)
def test_an_agent_picks_an_item_they_may_take_and_none_they_may_take_is_better(agents, waiting):
    who = agents[0]
    picked = item_pick(who, waiting)

    allowed = [w for w in waiting if agent_eligible(who, w.item)]
    if not allowed:
        assert picked is None
        return
    assert picked is not None and agent_eligible(who, picked)

    def rank(w: Waiting) -> tuple:
        return (-w.queue_priority, -w.item.priority, w.item.enqueued_at, w.item.id)

    best = min(allowed, key=rank)
    assert picked.id == best.item.id
