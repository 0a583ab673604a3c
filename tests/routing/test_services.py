"""Routing services against the real database: enqueue, offer, accept, decline, expire,
complete, transfer, presence, escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from routing import services
from routing.models import AgentProfile, ItemState, Presence, Queue, RoutingRule, WorkItem
from supportdesk.errors import Conflict, DomainError
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db


def online_agent(**fields) -> AgentProfile:
    defaults = {"languages": ["es"], "contact_kinds": ["customer"],
                "capacity": {"chat": 2, "messaging": 2, "email": 5, "voice": 1}}
    profile = AgentProfileFactory(**{**defaults, **fields})
    return services.presence_set(user=profile.user, presence=Presence.ONLINE)


@pytest.fixture
def chat_es() -> Queue:
    queue = Queue.objects.create(key="chat.es", name="Chat ES", offer_timeout_seconds=30)
    RoutingRule.objects.create(name="chat by language", position=10, queue_key="chat.{language}",
                               condition={"attribute": "channel", "op": "eq", "value": "chat"})
    return queue


def enqueue(conversation_id: int, **attributes) -> WorkItem:
    return services.work_item_enqueue(
        conversation_id=conversation_id, channel="chat",
        attributes={"language": "es", "contact_kind": "customer", **attributes},
    )


def test_a_new_item_is_offered_to_the_free_agent_and_accepted(chat_es):
    agent = online_agent()

    item = enqueue(1)

    assert item.queue == chat_es and item.rule == "chat by language"
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk
    accepted = services.offer_accept(item_id=item.pk, user=agent.user)
    assert accepted.state == ItemState.ASSIGNED
    kinds = list(item.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["queued", "offered", "accepted"]


def test_no_agent_leaves_it_waiting_and_an_agent_coming_online_pulls_it(chat_es):
    item = enqueue(1)
    assert item.state == ItemState.WAITING

    agent = online_agent()

    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk


def test_capacity_is_never_exceeded_and_completion_refills(chat_es):
    agent = online_agent(capacity={"chat": 2})
    items = [enqueue(n) for n in range(1, 4)]
    assert [i.state for i in items] == [ItemState.OFFERED, ItemState.OFFERED, ItemState.WAITING]

    services.work_item_complete(item_id=items[0].pk)

    items[2].refresh_from_db()
    assert items[2].state == ItemState.OFFERED and items[2].agent_id == agent.pk


def test_decline_goes_to_the_next_agent_and_never_back(chat_es):
    first = online_agent()
    second = online_agent()
    item = enqueue(1)
    offered_to = item.agent_id
    other = second if offered_to == first.pk else first
    declining = first if offered_to == first.pk else second

    services.offer_decline(item_id=item.pk, user=declining.user)

    item.refresh_from_db()
    assert item.agent_id == other.pk and declining.pk in item.declined_by


def test_expired_offers_move_on_and_repeated_misses_set_the_agent_away(chat_es, settings):
    settings.ROUTING_MISSED_OFFERS_AWAY = 2
    agent = online_agent()
    for n in (1, 2):
        item = enqueue(n)
        WorkItem.objects.filter(pk=item.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
        assert services.offers_expire() == 1

    agent.refresh_from_db()
    assert agent.presence == Presence.AWAY
    assert WorkItem.objects.filter(state=ItemState.WAITING).count() == 2


def test_going_offline_returns_open_items(chat_es):
    agent = online_agent()
    item = enqueue(1)
    services.offer_accept(item_id=item.pk, user=agent.user)

    services.presence_set(user=agent.user, presence=Presence.OFFLINE)

    item.refresh_from_db()
    assert item.state == ItemState.WAITING and item.agent_id is None


def test_a_reopened_conversation_goes_back_to_its_last_agent(chat_es):
    agents = [online_agent(), online_agent()]
    first = enqueue(1)
    last_agent = first.agent_id
    services.work_item_complete(item_id=first.pk)

    again = services.work_item_enqueue(conversation_id=1, channel="chat", attributes={"language": "es"})

    assert again.pk != first.pk and again.agent_id == last_agent
    # Without the preference the other agent, never assigned (longest idle), would get it.
    other = next(agent for agent in agents if agent.pk != last_agent)
    assert AgentProfile.objects.get(pk=other.pk).last_assigned_at is None


def test_a_reopened_conversation_waits_in_its_queue_when_its_last_agent_is_away(chat_es):
    agent = online_agent()
    first = enqueue(1)
    services.work_item_complete(item_id=first.pk)
    services.presence_set(user=agent.user, presence=Presence.AWAY)

    again = enqueue(1)

    assert again.state == ItemState.WAITING and again.queue == chat_es


def test_transfer_to_a_queue_and_to_an_agent(chat_es):
    vip = Queue.objects.create(key="vip", name="VIP", required_skills=["vip"], assign_directly=True)
    plain = online_agent()
    senior = online_agent(skills=["vip"])
    item = enqueue(1)
    holder = AgentProfile.objects.get(pk=item.agent_id)
    services.offer_accept(item_id=item.pk, user=holder.user)

    moved = services.work_item_transfer(item_id=item.pk, user=holder.user, queue_key="vip")

    assert moved.queue == vip and moved.state == ItemState.ASSIGNED and moved.agent_id == senior.pk
    back = services.work_item_transfer(item_id=item.pk, user=senior.user, agent_id=plain.pk)
    assert back.agent_id == plain.pk and back.state == ItemState.ASSIGNED
    with pytest.raises(Conflict):
        services.work_item_transfer(item_id=item.pk, user=senior.user, queue_key="chat.es")

    passed_on = services.work_item_transfer(item_id=item.pk, user=plain.user, queue_key="chat.es")
    assert passed_on.agent_id == senior.pk  # not straight back to the agent who passed it on


def test_escalation_raises_priority_relaxes_optional_skills_and_records_breach(chat_es):
    chat_es.optional_skills = ["returns"]
    chat_es.target_wait_seconds = 10
    chat_es.save()
    agent = online_agent()  # no "returns" skill
    item = enqueue(1)
    assert item.state == ItemState.WAITING
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(seconds=9))

    counts = services.sla_sweep()

    item.refresh_from_db()
    assert counts["escalated"] == 1 and item.priority == 10 and item.optional_relaxed
    assert item.state == ItemState.OFFERED and item.agent_id == agent.pk
    assert services.sla_sweep()["escalated"] == 0  # idempotent


def test_unknown_attribute_and_channel_are_clear_errors(chat_es):
    with pytest.raises(DomainError, match="Unknown attribute"):
        enqueue(1, favourite_colour="blue")
    with pytest.raises(DomainError, match="Unknown channel"):
        services.work_item_enqueue(conversation_id=1, channel="fax")


def test_an_item_nobody_takes_overflows_and_its_breach_is_recorded_once(chat_es):
    general = Queue.objects.create(key="general", name="General", priority=10)
    chat_es.overflow_queue, chat_es.overflow_after_seconds, chat_es.target_wait_seconds = general, 30, 60
    chat_es.save()
    item = enqueue(1)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(seconds=61),
                                               queued_at=timezone.now() - timedelta(seconds=31))

    first = services.sla_sweep()
    second = services.sla_sweep()

    item.refresh_from_db()
    assert (first["overflowed"], first["breached"], first["escalated"]) == (1, 1, 1)
    assert all(count == 0 for count in second.values())
    assert item.queue == general and item.queue_priority == 10 and item.sla_breached_at is not None
    assert list(item.events.filter(kind__in=["overflowed", "breached"]).values_list("kind", flat=True)
                .order_by("id")) == ["overflowed", "breached"]


def test_a_transferred_item_needs_what_its_new_queue_needs(chat_es):
    Queue.objects.create(key="vip", name="VIP", required_skills=["vip"])
    plain = online_agent()
    item = enqueue(1)
    services.offer_accept(item_id=item.pk, user=plain.user)

    moved = services.work_item_transfer(item_id=item.pk, user=plain.user, queue_key="vip")
    assert moved.state == ItemState.WAITING and moved.required_skills == ["vip"]

    senior = online_agent(skills=["vip"])
    moved.refresh_from_db()
    assert moved.agent_id == senior.pk


def test_work_answered_in_time_and_moved_on_later_is_not_a_breach(chat_es):
    first, second = online_agent(), online_agent()
    item = enqueue(1)
    holder = first if item.agent_id == first.pk else second
    other = second if holder is first else first
    services.offer_accept(item_id=item.pk, user=holder.user)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(hours=1))

    services.work_item_transfer(item_id=item.pk, user=holder.user, agent_id=other.pk)
    services.presence_set(user=other.user, presence=Presence.OFFLINE)  # back to the queue
    services.sla_sweep()

    item.refresh_from_db()
    assert item.sla_breached_at is None and not item.events.filter(kind="breached").exists()


def test_an_offer_past_its_timeout_cannot_be_accepted(chat_es):
    agent = online_agent()
    item = enqueue(1)
    WorkItem.objects.filter(pk=item.pk).update(offer_expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(Conflict, match="expired"):
        services.offer_accept(item_id=item.pk, user=agent.user)


def test_a_rule_stored_invalid_is_skipped_not_fatal(chat_es, caplog):
    RoutingRule.objects.create(name="broken", position=1, queue_key="chat.es",
                               condition={"attribute": "colour", "op": "eq", "value": "red"})
    RoutingRule.objects.create(name="no operator", position=2, queue_key="chat.es",
                               condition={"attribute": "language"})

    item = enqueue(1)

    assert item.rule == "chat by language" and "Routing rule" in caplog.text


def test_the_dry_run_writes_nothing_even_without_a_default_queue():
    route, _, agents = services.route_explain(channel="chat", attributes={"language": "es"})

    assert route.queue.key == "general" and route.queue.pk is None and agents == []
    assert not Queue.objects.exists()


def test_the_safety_net_goes_round_all_waiting_items_not_only_the_oldest(chat_es):
    stuck = [enqueue(n, language="xx") for n in (1, 2)]  # nobody speaks it
    placeable = enqueue(3)
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"])
    AgentProfile.objects.filter(pk=profile.pk).update(presence=Presence.ONLINE)
    profile.refresh_from_db()
    services.agent_slots_rebuild(profile)  # online, but nobody told it to pull: a lost wake-up

    placed = [services.waiting_rematch(limit=2) for _ in range(2)]

    placeable.refresh_from_db()
    assert placed == [0, 1] and placeable.agent_id == profile.pk
    assert all(WorkItem.objects.get(pk=item.pk).state == ItemState.WAITING for item in stuck)


def test_a_queue_edit_swaps_its_skills_on_waiting_items_and_keeps_the_rules(chat_es):
    chat_es.required_skills, chat_es.optional_skills = ["returns"], ["fraud"]
    chat_es.save()
    rule = RoutingRule.objects.get()
    rule.required_skills = ["spanish_law"]
    rule.save()
    item = enqueue(1)
    assert (item.required_skills, item.optional_skills) == (["returns", "spanish_law"], ["fraud"])

    chat_es.required_skills, chat_es.optional_skills = ["fraud"], ["vip"]
    chat_es.save()
    services.queue_changed(queue_id=chat_es.pk)

    item.refresh_from_db()
    assert (item.required_skills, item.optional_skills) == (["fraud", "spanish_law"], ["vip"])

    chat_es.required_skills, chat_es.optional_skills = [], ["spanish_law"]  # the rule's skill stays required
    chat_es.save()
    services.queue_changed(queue_id=chat_es.pk)

    item.refresh_from_db()
    assert (item.required_skills, item.optional_skills) == (["spanish_law"], [])


def test_overlapping_sweeps_move_an_item_one_queue_at_a_time(chat_es, monkeypatch):
    second = Queue.objects.create(key="second", name="Second")
    third = Queue.objects.create(key="third", name="Third")
    chat_es.overflow_queue, chat_es.overflow_after_seconds = second, 30
    chat_es.save()
    second.overflow_queue, second.overflow_after_seconds = third, 300
    second.save()
    item = enqueue(1)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(seconds=31),
                                               queued_at=timezone.now() - timedelta(seconds=31))
    assert services.sla_sweep()["overflowed"] == 1

    # A second sweep working from the list it read before the first one moved the item.
    monkeypatch.setattr(services.sla, "_waiting_past", lambda *args, **kwargs: [item.pk])
    assert services.sla_sweep()["overflowed"] == 0

    item.refresh_from_db()
    assert item.queue == second


def test_an_offer_accepted_after_the_target_is_a_breach(chat_es):
    chat_es.target_wait_seconds = 20
    chat_es.save()
    agent = online_agent()
    item = enqueue(1)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(seconds=30))

    accepted = services.offer_accept(item_id=item.pk, user=agent.user)

    assert accepted.sla_breached_at is not None
    assert list(item.events.values_list("kind", flat=True).order_by("id"))[-2:] == ["breached", "accepted"]


def test_an_unanswered_offer_past_the_target_is_a_breach(chat_es):
    chat_es.target_wait_seconds = 20
    chat_es.save()
    online_agent()
    item = enqueue(1)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(seconds=21))

    assert services.sla_sweep()["breached"] == 1
    item.refresh_from_db()
    assert item.state == ItemState.OFFERED and item.sla_breached_at is not None


def test_escalating_a_priority_already_at_the_top_neither_overflows_nor_stops_the_sweep(chat_es):
    chat_es.escalation_priority_boost, chat_es.target_wait_seconds = 32767, 10
    chat_es.save()
    item = enqueue(1)  # nobody online: it waits
    WorkItem.objects.filter(pk=item.pk).update(priority=2, enqueued_at=timezone.now() - timedelta(seconds=11))

    counts = services.sla_sweep()

    item.refresh_from_db()
    assert counts["escalated"] == 1 and counts["breached"] == 1 and item.priority == 32767


def test_attributes_with_nul_characters_are_refused(chat_es):
    with pytest.raises(DomainError, match="NUL"):
        enqueue(1, language="e\x00s")


def test_a_waiting_item_sent_to_an_agent_records_who_sent_it(chat_es):
    supervisor = AgentProfileFactory().user
    item = enqueue(1)  # nobody online: it waits
    # Online with room, but no Spanish: routing would never offer it to them; a supervisor may.
    target = online_agent(languages=["en"])

    moved = services.work_item_transfer(item_id=item.pk, user=supervisor, agent_id=target.pk,
                                        is_supervisor=True)

    transferred = item.events.get(kind="transferred")
    assert moved.agent_id == target.pk and moved.state == ItemState.ASSIGNED
    assert transferred.detail == {"to_agent": target.pk, "by": f"user:{supervisor.pk}"}


def test_the_sweep_lists_items_by_the_same_clock_it_checks_them_with(chat_es):
    # Given an item whose target passed just now by the application's clock (the database's
    # now() is the start of this test's transaction, a moment earlier)
    chat_es.target_wait_seconds = 20
    chat_es.save()
    item = enqueue(1)  # nobody online: it waits
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=timezone.now() - timedelta(seconds=20))

    counts = services.sla_sweep()

    assert counts["breached"] == 1 and WorkItem.objects.get(pk=item.pk).sla_breached_at is not None


def test_a_cancel_can_be_dated_back_within_the_items_life_and_keeps_its_reason(chat_es):
    # given an item offered to the only agent, queued five minutes ago
    agent = online_agent()
    item = enqueue(1)
    enqueued = timezone.now() - timedelta(minutes=5)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=enqueued)
    left = enqueued + timedelta(minutes=2)

    # when it is cancelled as of when the customer left, noticed later
    cancelled = services.work_item_cancel(item_id=item.pk, at=left, reason="abandoned")

    # then it ended then, never answered, and the agent's room is free again
    assert (cancelled.state, cancelled.completed_at, cancelled.answered_at) == (ItemState.CANCELLED, left, None)
    event = item.events.get(kind="cancelled")
    assert event.at == left and event.detail["reason"] == "abandoned"
    assert not WorkItem.objects.filter(agent=agent, state=ItemState.OFFERED).exists()
    # an end before the item existed, or in the future, is kept within its life
    before, after = enqueue(2), enqueue(3)
    assert services.work_item_cancel(item_id=before.pk, at=before.enqueued_at - timedelta(hours=1)
                                     ).completed_at == before.enqueued_at
    assert services.work_item_cancel(item_id=after.pk, at=timezone.now() + timedelta(hours=1)
                                     ).completed_at <= timezone.now()
