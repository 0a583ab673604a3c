"""Offers and service levels with the beat down: nothing here runs the sweep unless it says
so (the beat coming back). Time is moved by setting the items' timestamps in the past, as
the other routing tests do."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from routing import selectors, services
from routing.models import AgentProfile, ItemState, Presence, Queue, RoutingRule, WorkItem, WorkItemEvent
from supportdesk.errors import Conflict
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db


def online_agent(chat: int = 1, **fields) -> AgentProfile:
    defaults = {"languages": ["es"], "contact_kinds": ["customer"],
                "capacity": {"chat": chat, "messaging": 0, "email": 0, "voice": 0}}
    profile = AgentProfileFactory(**{**defaults, **fields})
    return services.presence_set(user=profile.user, presence=Presence.ONLINE)


@pytest.fixture
def chat_es() -> Queue:
    queue = Queue.objects.create(key="chat.es", name="Chat ES", offer_timeout_seconds=30,
                                 target_wait_seconds=60, escalate_at_percent=80)
    RoutingRule.objects.create(name="chat by language", position=10, queue_key="chat.{language}",
                               condition={"attribute": "channel", "op": "eq", "value": "chat"})
    return queue


def enqueue(conversation_id: int) -> WorkItem:
    return services.work_item_enqueue(conversation_id=conversation_id, channel="chat",
                                      attributes={"language": "es", "contact_kind": "customer"})


def lapse(item: WorkItem, *, seconds_ago: float = 1) -> None:
    """The offer's timeout passed `seconds_ago`, and no sweep has run since."""
    WorkItem.objects.filter(pk=item.pk).update(
        offer_expires_at=timezone.now() - timedelta(seconds=seconds_ago))


def reload(obj):
    obj.refresh_from_db()
    return obj


def age(item: WorkItem, seconds: float) -> datetime:
    """The item was enqueued `seconds` ago: its wait and its history so far move back."""
    shift = timedelta(seconds=seconds)
    WorkItem.objects.filter(pk=item.pk).update(enqueued_at=F("enqueued_at") - shift,
                                               queued_at=F("queued_at") - shift)
    WorkItemEvent.objects.filter(item_id=item.pk).update(at=F("at") - shift)
    return WorkItem.objects.get(pk=item.pk).enqueued_at


def assert_passed_on(item: WorkItem, *, by: AgentProfile, to: AgentProfile) -> None:
    """The offer `by` let time out (or answered too late) is now offered to `to`."""
    item = reload(item)
    assert item.state == ItemState.OFFERED and item.agent_id == to.pk
    assert by.pk in item.declined_by


def kinds(item: WorkItem) -> list[str]:
    return list(item.events.order_by("at", "id").values_list("kind", flat=True))


# --- offers past their timeout hold no capacity, and move on when anything looks ---------------


def test_an_offer_past_its_timeout_frees_the_agent_for_the_next_item(chat_es):
    # Given an agent with room for one chat, whose offer timed out a second ago
    agent = online_agent(chat=1)
    first = enqueue(1)
    lapse(first)

    # When the next chat arrives
    second = enqueue(2)

    # Then the old offer expired (a miss) and the agent is offered the new chat
    assert second.state == ItemState.OFFERED and second.agent_id == agent.pk
    first = reload(first)
    assert first.state == ItemState.WAITING and agent.pk in first.declined_by
    assert reload(agent).missed_offers == 1
    assert "expired" in kinds(first)


def test_an_offer_past_its_timeout_goes_to_an_agent_who_frees_room(chat_es):
    # Given two agents with room for one chat each: one let an offer time out, one is busy
    holder, other = online_agent(chat=1), online_agent(chat=1)
    lapsed, busy = enqueue(1), enqueue(2)
    assert (lapsed.agent_id, busy.agent_id) == (holder.pk, other.pk)  # longest idle, then lower id
    services.offer_accept(item_id=busy.pk, user=other.user)
    lapse(lapsed)

    # When the busy agent completes their chat (and so looks for work)
    services.work_item_complete(item_id=busy.pk)

    # Then the timed-out offer went to them at once
    assert_passed_on(lapsed, by=holder, to=other)


def test_an_agent_coming_online_takes_an_offer_another_agent_let_time_out(chat_es):
    holder = online_agent(chat=1)
    lapsed = enqueue(1)
    lapse(lapsed)

    other = online_agent(chat=1)

    assert_passed_on(lapsed, by=holder, to=other)


def test_a_transfer_to_an_agent_whose_only_offer_timed_out_finds_room(chat_es):
    target = online_agent(chat=1)
    lapsed = enqueue(1)
    lapse(lapsed)
    sender = online_agent(chat=1, languages=["en"])
    Queue.objects.create(key="general", name="General", assign_directly=True)
    busy = services.work_item_enqueue(conversation_id=2, channel="chat",
                                      attributes={"language": "en", "contact_kind": "customer"})
    assert busy.agent_id == sender.pk and busy.state == ItemState.ASSIGNED

    moved = services.work_item_transfer(item_id=busy.pk, user=sender.user, agent_id=target.pk)

    assert moved.agent_id == target.pk and moved.state == ItemState.ASSIGNED
    assert reload(lapsed).state == ItemState.WAITING


def test_a_late_accept_is_refused_and_the_offer_goes_to_the_next_agent_in_the_same_call(chat_es):
    # Given two agents, and an offer to one of them that timed out a second ago
    first, second = online_agent(), online_agent()
    item = enqueue(1)
    late = first if item.agent_id == first.pk else second
    other = second if late is first else first
    lapse(item)

    # When the late agent accepts
    with pytest.raises(Conflict) as refused:
        services.offer_accept(item_id=item.pk, user=late.user)

    # Then they are told it expired, and the item is already offered to the other agent
    assert refused.value.code == "offer_expired"
    assert_passed_on(item, by=late, to=other)
    # They answered, late: present, so not a missed offer.
    assert reload(late).missed_offers == 0 and reload(late).presence == Presence.ONLINE


def test_accepting_an_offer_the_sweep_already_expired_says_it_expired(chat_es):
    agent = online_agent()
    item = enqueue(1)
    lapse(item)
    services.offers_expire()

    with pytest.raises(Conflict) as refused:
        services.offer_accept(item_id=item.pk, user=agent.user)

    assert refused.value.code == "offer_expired"


def test_a_late_accept_through_the_api_is_a_409_in_the_error_shape_and_the_offer_moves_on(chat_es):
    first, second = online_agent(), online_agent()
    item = enqueue(1)
    late = first if item.agent_id == first.pk else second
    lapse(item)
    client = APIClient()
    client.force_authenticate(late.user)

    response = client.post(f"/api/v1/routing/items/{item.pk}/accept/")

    assert response.status_code == 409 and response.json()["error"]["code"] == "offer_expired"
    assert_passed_on(item, by=late, to=second if late is first else first)


@pytest.mark.parametrize("answer", ["accept", "decline"])
def test_answering_one_offer_passes_the_agents_timed_out_offers_on_without_counting_misses(
        chat_es, settings, answer):
    # Given an agent with three offers, two of them timed out a second ago
    settings.ROUTING_MISSED_OFFERS_AWAY = 2
    agent = online_agent(chat=3)
    answered, *lapsed = enqueue(1), enqueue(2), enqueue(3)
    for item in lapsed:
        lapse(item)

    # When they answer the live one
    getattr(services, f"offer_{answer}")(item_id=answered.pk, user=agent.user)

    # Then the timed-out ones left them (for others), and they are not set away: they are there
    for item in lapsed:
        item = reload(item)
        assert item.state == ItemState.WAITING and agent.pk in item.declined_by
    agent = reload(agent)
    assert agent.missed_offers == 0 and agent.presence == Presence.ONLINE


def test_listing_and_load_leave_out_offers_past_their_timeout(chat_es):
    agent = online_agent(chat=2)
    live, lapsed = enqueue(1), enqueue(2)
    lapse(lapsed)

    listed = list(selectors.agent_item_list(agent=agent).values_list("pk", flat=True))
    load = selectors.agent_load(agent=agent)

    assert listed == [live.pk] and load["chat"] == 1


# --- offers that timed out while nothing ran are not held against the agent ----------------------


def test_offers_that_expired_during_an_outage_do_not_set_the_agent_away(chat_es, settings, caplog):
    # Given an agent whose two offers timed out ten minutes ago while no sweep ran
    settings.ROUTING_MISSED_OFFERS_AWAY = 2
    agent = online_agent(chat=2)
    items = [enqueue(1), enqueue(2)]
    for item in items:
        lapse(item, seconds_ago=600)

    # When the beat comes back
    services.routing_sweep()

    # Then the agent is still online, with no miss counted, and gets the chats afresh
    agent = reload(agent)
    assert agent.presence == Presence.ONLINE and agent.missed_offers == 0
    for item in items:
        item = reload(item)
        assert item.state == ItemState.OFFERED and item.agent_id == agent.pk
        assert item.offer_expires_at > timezone.now()
        assert item.events.get(kind="expired").detail.get("unseen") is True
    assert caplog.text.count("not counted as their miss") == 2  # the operators are told


def test_an_offer_found_long_after_its_timeout_on_access_is_not_a_miss(chat_es, settings):
    settings.ROUTING_MISSED_OFFERS_AWAY = 1
    agent = online_agent(chat=1)
    lapsed = enqueue(1)
    lapse(lapsed, seconds_ago=600)

    second = enqueue(2)

    agent = reload(agent)
    assert agent.presence == Presence.ONLINE and agent.missed_offers == 0
    assert second.agent_id == agent.pk
    assert agent.pk not in reload(lapsed).declined_by


def test_offers_that_expire_while_the_desk_runs_still_count(chat_es, settings):
    settings.ROUTING_MISSED_OFFERS_AWAY = 2
    agent = online_agent(chat=2)
    for item in (enqueue(1), enqueue(2)):
        lapse(item, seconds_ago=1)

    services.offers_expire()

    agent = reload(agent)
    assert agent.presence == Presence.AWAY and agent.missed_offers == 2


# --- service levels: escalation before breach, on access ------------------------------------------


def test_an_agent_pulling_an_old_item_records_escalation_then_breach_at_their_due_times(chat_es):
    # Given a chat that has waited 100 s with nobody online (target 60 s, escalation at 80 %)
    item = enqueue(1)
    enqueued_at = age(item, 100)

    # When an agent comes online and takes it (no sweep has run)
    agent = online_agent()

    # Then it was escalated, then breached, each at its due time, and then offered
    item = reload(item)
    assert item.agent_id == agent.pk and item.state == ItemState.OFFERED
    assert kinds(item) == ["queued", "escalated", "breached", "offered"]
    assert item.escalated_at == enqueued_at + timedelta(seconds=48)
    assert item.sla_breached_at == enqueued_at + timedelta(seconds=60)
    assert item.events.get(kind="breached").at == item.sla_breached_at


def test_an_offer_accepted_after_the_target_is_escalated_before_it_is_breached(chat_es):
    agent = online_agent()
    item = enqueue(1)
    enqueued_at = age(item, 70)  # offered late in its wait; the offer itself is still live

    services.offer_accept(item_id=item.pk, user=agent.user)

    item = reload(item)
    assert kinds(item)[-3:] == ["escalated", "breached", "accepted"]
    assert item.escalated_at == enqueued_at + timedelta(seconds=48)


def test_the_sweep_escalates_an_unanswered_offer_before_recording_its_breach(chat_es):
    online_agent()
    item = enqueue(1)
    age(item, 61)

    counts = services.sla_sweep()

    item = reload(item)
    assert counts["breached"] == 1 and counts["escalated"] == 1
    assert kinds(item) == ["queued", "offered", "escalated", "breached"]
    assert item.state == ItemState.OFFERED and item.escalated_at < item.sla_breached_at


def test_a_waiting_item_past_its_relax_wait_reaches_an_agent_without_the_optional_skill(chat_es):
    # Given a chat wanting "returns" for its first 5 s, waiting 6 s, no sweep since
    Queue.objects.filter(pk=chat_es.pk).update(optional_skills=["returns"], relax_optional_after_seconds=5)
    services.routing_config_clear()
    item = enqueue(1)
    age(item, 6)

    # When an agent without that skill comes online
    agent = online_agent()

    # Then they get it, and the relaxation is on record
    item = reload(item)
    assert item.agent_id == agent.pk and item.optional_relaxed
    assert kinds(item) == ["queued", "relaxed", "offered"]


def test_an_item_declined_by_the_only_agent_comes_back_to_them_once_escalation_is_due(chat_es):
    agent = online_agent()
    item = enqueue(1)
    services.offer_decline(item_id=item.pk, user=agent.user)
    assert reload(item).state == ItemState.WAITING
    age(item, 50)  # escalation (at 48 s) is due, and clears who declined it

    services.presence_set(user=agent.user, presence=Presence.AWAY)
    services.presence_set(user=agent.user, presence=Presence.ONLINE)

    item = reload(item)
    assert item.agent_id == agent.pk and item.escalated_at is not None


def test_the_queue_figures_count_a_breach_the_sweep_has_not_recorded_yet(chat_es):
    item = enqueue(1)  # nobody online: it waits
    age(item, 61)

    stats = {row["key"]: row for row in selectors.queue_stats()}

    assert stats["chat.es"]["breached_today"] == 1 and reload(item).sla_breached_at is None
