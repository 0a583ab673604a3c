"""What workflow steps can do and where messages can go: registries that higher layers fill.

Workflows import nothing from `integrations/`: integrations register the actions they
provide (an OMS rebate) and the channels they send on (email) from their AppConfig.ready().
The engine's own actions (tags, attributes, tasks, wait, ...) register from workflows'.

An action:
    params_errors(params) -> list of messages ([] when the step's params are valid)
    run(params, context) -> StepResult (JSON-able data, a summary a person reads)
    describe(params, context) -> what it would do, for the dry run (optional; no writes)
It must be idempotent on `context.idempotency_key`: the same key twice, one effect. Raise
`StepFailed` for a permanent error (the run fails, a person retries it), `StepRetry` for a
transient one (the run is tried again later with the same key).

A channel: send(contact, rendered, *, idempotency_key, context) -> the provider's reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class StepFailed(Exception):
    """A step that cannot succeed as it is (bad params, refused by the far side)."""


class StepRetry(Exception):
    """A step that may succeed later (a timeout, a 503): retried with the same key."""


@dataclass
class StepContext:
    workflow_id: int
    run_id: int | None  # None in a dry run
    position: int
    contact: Any  # timeline.models.Contact
    order: Any = None  # timeline.models.Order, when the subject is one
    conversation: Any = None  # conversations.models.Conversation, when the subject is one
    idempotency_key: str = ""
    actor: str = ""  # who did it on the timeline: "workflow:<id>"
    chain: list[int] = field(default_factory=list)  # workflow ids that led here, this one last
    variables: dict[str, Any] = field(default_factory=dict)  # for templates; steps add theirs
    now: datetime | None = None
    dry_run: bool = False


@dataclass
class StepResult:
    data: dict[str, Any] = field(default_factory=dict)  # stored on the step (JSON-able)
    summary: str = ""  # "granted a 5.00 EUR rebate", joined into the run's summary
    variables: dict[str, Any] = field(default_factory=dict)  # for later steps' templates
    stop: bool = False  # end the run here (stop-if)
    wait_seconds: float | None = None  # resume the run after this long (wait)


@dataclass(frozen=True)
class Action:
    name: str
    label: Any
    params_errors: Callable[[Mapping[str, Any]], list[str]]
    run: Callable[[Mapping[str, Any], StepContext], StepResult]
    describe: Callable[[Mapping[str, Any], StepContext], str] | None = None
    # True: it reaches outside the database (HTTP, SMTP), so it runs outside the engine's
    # transaction, between a committed "started" and a committed "done", with its key.
    # False: it only writes rows, in the same transaction as the step's "done".
    external: bool = True


@dataclass(frozen=True)
class Channel:
    name: str
    label: Any
    send: Callable[..., str]
    external: bool = True  # as for actions: False when sending only writes rows (chat)


_actions: dict[str, Action] = {}
_channels: dict[str, Channel] = {}


def action_register(name: str, *, label: Any, params_errors: Callable[[Mapping[str, Any]], list[str]],
                    run: Callable[[Mapping[str, Any], StepContext], StepResult],
                    describe: Callable[[Mapping[str, Any], StepContext], str] | None = None,
                    external: bool = True) -> None:
    """Offer an action to workflow steps (idempotent: registering again replaces it)."""
    _actions[name] = Action(name=name, label=label, params_errors=params_errors, run=run,
                            describe=describe, external=external)


def channel_register(name: str, *, label: Any, send: Callable[..., str], external: bool = True) -> None:
    """Offer a channel to the send-message step (idempotent: registering again replaces it)."""
    _channels[name] = Channel(name=name, label=label, send=send, external=external)


def actions() -> dict[str, Action]:
    return dict(_actions)


def channels() -> dict[str, Channel]:
    return dict(_channels)


def action(name: str) -> Action | None:
    return _actions.get(name)


def channel(name: str) -> Channel | None:
    return _channels.get(name)
