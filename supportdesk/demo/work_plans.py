"""Plans of the past conversations' routing: the work item each one had and its history, as
plain data drawn from the contact's generator (`supportdesk.demo.plans` draws the
conversation around them; `supportdesk.demo.work_items` writes them).

Waits are drawn against the target of the queue the demo's rules give the conversation
(`supportdesk.demo.queues`), so the desk's service level lands in the 80s: calls, answered at
once or lost, and emails, whose target is hours, a little higher. Some offers are declined or
time out before an agent accepts, a few conversations pass from one agent to another, and a
few chats, messages and calls are abandoned before anyone answered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from conversations.models import Channel
from routing.models import ItemState, WorkItemEventKind
from supportdesk.demo.queues import DIRECT_QUEUES, OFFER_TIMEOUT_SECONDS

# Share of the answered work taken within the queue's target wait, by channel.
IN_TARGET = {Channel.VOICE: 0.93, Channel.EMAIL: 0.9}
IN_TARGET_OTHERWISE = 0.84
MISSED_OFFER_SHARE = 0.15  # offered to another agent first, who declined or let it time out
ABANDON_SHORT_SHARE = 0.1  # left within seconds (a mis-click: the reports leave them out)
HOLDS = (WorkItemEventKind.ASSIGNED, WorkItemEventKind.ACCEPTED)
MISSES = (WorkItemEventKind.DECLINED, WorkItemEventKind.EXPIRED)


@dataclass(frozen=True)
class WorkStep:
    """One entry of routing's history (a WorkItemEvent)."""

    kind: str  # a WorkItemEventKind value
    at: datetime
    agent: str | None = None  # username
    to_agent: str | None = None  # transferred: to whom


@dataclass
class WorkPlan:
    queue_key: str
    enqueued_at: datetime
    answered_at: datetime | None  # None: the contact left before anyone answered
    ended_at: datetime  # completed at the resolution, or cancelled when the contact left
    target_seconds: int
    steps: list[WorkStep]

    @property
    def state(self) -> str:
        return ItemState.COMPLETED if self.answered_at is not None else ItemState.CANCELLED

    @property
    def holder(self) -> str | None:
        """Who held it last."""
        return next((step.agent for step in reversed(self.steps) if step.kind in HOLDS), None)

    @property
    def held_since(self) -> datetime | None:
        return next((step.at for step in reversed(self.steps) if step.kind in HOLDS), None)

    @property
    def missed(self) -> list[WorkStep]:
        """The offers declined or let time out, in order."""
        return [step for step in self.steps if step.kind in MISSES]



def answer_wait(rng: random.Random, *, channel: str, target: int) -> float:
    """Seconds from arrival to the agent taking it: mostly within the target, else past it (an
    email at most a quarter past, so that it is answered within the hours a past email spans)."""
    if rng.random() < IN_TARGET.get(channel, IN_TARGET_OTHERWISE):
        return target * rng.uniform(0.1, 0.95)
    return target * rng.uniform(1.05, 1.25 if channel == Channel.EMAIL else 2.5)


def answered_work(
    rng: random.Random, *, queue_key: str, target: int, enqueued_at: datetime, wait: float, agent: str,
    others: Sequence[str], ended_at: datetime, transfer: tuple[str, datetime] | None = None,
) -> WorkPlan:
    """Queued, offered and accepted (or assigned, in a queue that assigns directly) after
    `wait`, maybe first offered to one of `others` who missed it, maybe transferred to another
    agent (`transfer`: who, when), and completed at `ended_at`."""
    answered_at = enqueued_at + timedelta(seconds=wait)
    steps = [WorkStep(WorkItemEventKind.QUEUED, enqueued_at)]
    if queue_key in DIRECT_QUEUES:
        steps.append(WorkStep(WorkItemEventKind.ASSIGNED, answered_at, agent))
    else:
        offered_at = answered_at - timedelta(seconds=min(rng.uniform(1, 8), wait / 2))
        if others and rng.random() < MISSED_OFFER_SHARE:
            steps += _missed_offer(rng, enqueued_at=enqueued_at, before=offered_at, agent=rng.choice(others))
        steps += [WorkStep(WorkItemEventKind.OFFERED, offered_at, agent),
                  WorkStep(WorkItemEventKind.ACCEPTED, answered_at, agent)]
    holder = agent
    if transfer is not None:
        holder, transferred_at = transfer
        steps += [WorkStep(WorkItemEventKind.TRANSFERRED, transferred_at, agent, to_agent=holder),
                  WorkStep(WorkItemEventKind.ASSIGNED, transferred_at, holder)]
    steps.append(WorkStep(WorkItemEventKind.COMPLETED, ended_at, holder))
    return _work(queue_key, target, enqueued_at, answered_at, ended_at, steps)


def abandoned_work(rng: random.Random, *, queue_key: str, target: int, enqueued_at: datetime,
                   others: Sequence[str]) -> WorkPlan:
    """Queued, maybe offered to an agent who let it time out, and cancelled when the contact
    left (a chat closed, a call hung up), mostly after waiting past the target."""
    short = rng.random() < ABANDON_SHORT_SHARE
    wait = rng.uniform(1, 4.9) if short else target * rng.uniform(0.3, 3)
    ended_at = enqueued_at + timedelta(seconds=wait)
    steps = [WorkStep(WorkItemEventKind.QUEUED, enqueued_at)]
    if queue_key not in DIRECT_QUEUES and others and rng.random() < 0.5:
        steps += _missed_offer(rng, enqueued_at=enqueued_at, before=ended_at, agent=rng.choice(others))
    steps.append(WorkStep(WorkItemEventKind.CANCELLED, ended_at))
    return _work(queue_key, target, enqueued_at, None, ended_at, steps)


def _missed_offer(rng: random.Random, *, enqueued_at: datetime, before: datetime, agent: str) -> list[WorkStep]:
    """An offer to `agent`, declined or timed out, if that fits before `before`."""
    offered_at = enqueued_at + timedelta(seconds=rng.uniform(1, 3))
    if rng.random() < 0.5:
        missed = WorkStep(WorkItemEventKind.EXPIRED, offered_at + timedelta(seconds=OFFER_TIMEOUT_SECONDS), agent)
    else:
        missed = WorkStep(WorkItemEventKind.DECLINED, offered_at + timedelta(seconds=rng.uniform(2, 10)), agent)
    return [WorkStep(WorkItemEventKind.OFFERED, offered_at, agent), missed] if missed.at < before else []


def _work(queue_key: str, target: int, enqueued_at: datetime, answered_at: datetime | None, ended_at: datetime,
          steps: list[WorkStep]) -> WorkPlan:
    """The plan with its steps in time order. Whether it breached its target is routing's rule
    over the written item (its queue may count the wait in business hours): the writer's."""
    steps.sort(key=lambda step: step.at)  # stable: a step keeps its place among equal times
    return WorkPlan(queue_key=queue_key, enqueued_at=enqueued_at, answered_at=answered_at, ended_at=ended_at,
                    target_seconds=target, steps=steps)
