"""Many threads hammer the real database with every routing use case at once; afterwards
no agent holds more than their capacity, no item is held twice or strands while an
eligible agent has room, and nothing deadlocked."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import OperationalError, close_old_connections, connections
from django.utils import timezone

from routing import engine, services
from routing.models import HELD_STATES, AgentProfile, ItemState, Presence, Queue, WorkItem
from supportdesk.errors import DomainError
from tests.factories import AgentProfileFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6
STEPS = 60


def _worker(seed: int, agents: list[AgentProfile], barrier: threading.Barrier,
            failures: list[BaseException], beat: bool = True) -> None:
    rng = random.Random(seed)
    try:
        barrier.wait()
        for step in range(STEPS):
            action = rng.random()
            try:
                if action < 0.45:
                    services.work_item_enqueue(
                        conversation_id=seed * 1000 + step, channel=rng.choice(["chat", "email"]),
                        attributes={"language": rng.choice(["es", "en"]), "contact_kind": "customer"},
                    )
                elif action < 0.75:
                    item = (WorkItem.objects.filter(state__in=HELD_STATES).order_by("?").first())
                    if item is None:
                        continue
                    agent = next(a for a in agents if a.pk == item.agent_id)
                    if item.state == ItemState.OFFERED and rng.random() < 0.5:
                        (services.offer_accept if rng.random() < 0.6 else services.offer_decline)(
                            item_id=item.pk, user=agent.user)
                    else:
                        services.work_item_complete(item_id=item.pk)
                elif action < 0.85:
                    agent = rng.choice(agents)
                    services.presence_set(user=agent.user, presence=rng.choice(
                        [Presence.ONLINE, Presence.ONLINE, Presence.AWAY, Presence.OFFLINE]),
                        reassign=rng.random() < 0.5)
                elif beat:
                    services.routing_sweep()
                else:
                    # No beat: offers time out (just now, or long ago as in an outage) and only
                    # the use cases above notice.
                    WorkItem.objects.filter(pk__in=WorkItem.objects.filter(state=ItemState.OFFERED)
                                            .order_by("?").values("pk")[:1]).update(
                        offer_expires_at=timezone.now() - timedelta(seconds=rng.choice([1, 600])))
            except DomainError:
                pass  # another thread moved the item first: the refusal is the right answer
    except (OperationalError, AssertionError) as exc:  # a deadlock would land here
        failures.append(exc)
    except BaseException as exc:
        failures.append(exc)
    finally:
        close_old_connections()
        connections.close_all()


@pytest.mark.parametrize("beat", [True, False], ids=["with-beat", "offers-lapsing-without-beat"])
def test_concurrent_workers_never_overassign_or_strand(beat):
    Queue.objects.create(key="general", name="General")
    agents = []
    for n in range(8):
        profile = AgentProfileFactory(languages=["es", "en"] if n % 2 else ["es"],
                                      contact_kinds=["customer"],
                                      capacity={"chat": 2, "email": 1})
        agents.append(services.presence_set(user=profile.user, presence=Presence.ONLINE))
    connections.close_all()
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_worker, args=(seed, agents, barrier, failures, beat))
               for seed in range(1, THREADS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    # Quiescent now: one more sweep places anything a race left waiting.
    for agent in agents:
        services.presence_set(user=agent.user, presence=Presence.ONLINE)
    services.routing_sweep()

    held = Counter(WorkItem.objects.filter(state__in=HELD_STATES).values_list("agent_id", "channel"))
    profiles = AgentProfile.objects.in_bulk([a.pk for a in agents])
    for (agent_id, channel), count in held.items():
        assert count <= profiles[agent_id].capacity_for(channel), (agent_id, channel, count)
    assert not WorkItem.objects.filter(state__in=HELD_STATES, agent__isnull=True).exists()
    assert WorkItem.objects.count() > THREADS * 10

    loads: dict[int, dict[str, int]] = {}
    for (agent_id, channel), count in held.items():
        loads.setdefault(agent_id, {})[channel] = count
    engine_agents = [services.engine_agent(p, loads.get(p.pk, {})) for p in profiles.values()]
    for item in WorkItem.objects.filter(state=ItemState.WAITING):
        eligible = [a for a in engine_agents if engine.agent_eligible(a, services.engine_item(item))]
        assert eligible == [], f"item {item.pk} waits while {eligible[0].id} has room"


def test_simultaneous_arrivals_for_one_free_place_give_it_to_exactly_one():
    Queue.objects.create(key="general", name="General")
    profile = AgentProfileFactory(languages=["es"], contact_kinds=["customer"], capacity={"chat": 1})
    agent = services.presence_set(user=profile.user, presence=Presence.ONLINE)
    connections.close_all()
    rounds = 12
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []
    held_after_round: list[int] = []

    def arrive(seed: int) -> None:
        try:
            for round_number in range(rounds):
                barrier.wait()
                services.work_item_enqueue(conversation_id=round_number * 100 + seed, channel="chat",
                                           attributes={"language": "es"})
                if barrier.wait() == 0:  # one thread checks and resets between rounds
                    held_after_round.append(
                        WorkItem.objects.filter(agent_id=agent.pk, state__in=HELD_STATES).count())
                    # Cancelling frees the place, which pulls a waiting item: repeat until none.
                    while (open_item := WorkItem.objects.filter(
                            state__in=[*HELD_STATES, ItemState.WAITING]).first()) is not None:
                        services.work_item_cancel(item_id=open_item.pk)
                barrier.wait()
        except BaseException as exc:
            failures.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=arrive, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert held_after_round == [1] * rounds
