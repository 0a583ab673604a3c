"""The OMS behind the widget's self-service order actions (conversations.order_actions):
registered from this app's ready(), so conversations never imports the OMS client."""

from __future__ import annotations

from conversations.order_actions import (
    ORDER_CANCEL,
    OrderActionDone,
    OrderActionRefused,
    OrderActionUnavailable,
    order_action_register,
)
from integrations.oms.client import OmsPermanentError, OmsTransientError, get_oms_client
from timeline.models import Order


def oms_order_cancel(*, order: Order, reason: str, idempotency_key: str) -> OrderActionDone:
    """Ask the OMS to cancel the order; its refusal and its silence in the interface's terms."""
    try:
        cancellation = get_oms_client().cancel_order(order_external_id=order.external_id, reason=reason,
                                                     idempotency_key=idempotency_key)
    except OmsTransientError as error:
        raise OrderActionUnavailable(str(error)) from error
    except OmsPermanentError as error:
        raise OrderActionRefused(str(error), code=error.code) from error
    return OrderActionDone(status=cancellation.status, at=cancellation.cancelled_at,
                           replayed=cancellation.replayed)


def order_actions_register() -> None:
    order_action_register(name=ORDER_CANCEL, perform=oms_order_cancel)
