"""What the widget's self-service may ask the OMS to do to an order, as an interface.

`conversations/` defines it and calls it; `integrations/` (which owns the OMS client) implements
it and registers it from its app's `ready()` (integrations/order_actions.py), as the transports
of `conversations.channels` do for replies: nothing here imports a provider.

An action is called with the order (the desk's mirror row), a reason and an idempotency key,
and answers with what the OMS says the order is now, or raises:

- `OrderActionRefused`: the OMS will not (its `code`: in_delivery, delivered,
  already_cancelled, not_found, or refused when it gave no reason). Trying again will not help;
  the customer reads why, in their language (never the OMS's own text).
- `OrderActionUnavailable`: the OMS did not answer, or no provider is registered. Trying again
  later may work, with the same key, so the order is cancelled once whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from timeline.models import Order

ORDER_CANCEL = "cancel"


@dataclass(frozen=True)
class OrderActionDone:
    status: str  # the order's status as the OMS answered
    at: datetime | None  # when that came to be, by the OMS's clock (None: it did not say)
    replayed: bool = False  # the same key was seen before: nothing new happened


class OrderActionRefused(Exception):
    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


class OrderActionUnavailable(Exception):
    pass


class OrderAction(Protocol):
    def __call__(self, *, order: Order, reason: str, idempotency_key: str) -> OrderActionDone: ...


_actions: dict[str, Callable[..., OrderActionDone]] = {}


def order_action_register(*, name: str, perform: OrderAction) -> None:
    """A provider takes one kind of order action (a second registration replaces the first)."""
    _actions[name] = perform


def order_action_perform(*, name: str, order: Order, reason: str, idempotency_key: str) -> OrderActionDone:
    perform = _actions.get(name)
    if perform is None:
        raise OrderActionUnavailable(f"No provider performs the order action {name!r}.")
    return perform(order=order, reason=reason, idempotency_key=idempotency_key)
