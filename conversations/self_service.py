"""The widget's self-service in words: what an order's card says, and each answer about an order,
a courier's delivery or a partner's store, in the active language (the caller sets the
customer's). Pure: it reads the rows it is given and writes nothing; the use cases around it
are conversations/services/self_service.py.

Every sentence here is a customer's (tests/supportdesk/test_customer_texts.py holds each
language to it). What the OMS wrote (a delay's reason) is shown as it came: it is the order's
data, not the desk's words.

Times are on the visitor's clock (the zone their browser reports; the desk's when it reports
none), written the language's way (Django's format modules): the time alone today, with the
day otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from timeline.models import ORDER_CANCELLABLE, ORDER_ON_THE_WAY, Order, OrderStatus


class Topic(StrEnum):
    """What a self-service answer is about. The order topics share their names with the
    intents (conversations.intents) a first message is recognised as."""

    ORDER_STATUS = "order_status"  # where is my order
    LATE = "late"
    CANCEL = "cancel"
    MISSING_ITEM = "missing_item"
    COURIER_DELIVERY = "courier_delivery"  # a courier's current delivery
    PARTNER_STORE = "partner_store"  # a partner's store today


ORDER_TOPICS = frozenset({Topic.ORDER_STATUS, Topic.LATE, Topic.CANCEL, Topic.MISSING_ITEM})

# An order's status as a customer reads it.
STATUS_WORDS = {
    OrderStatus.CREATED: _("Received"),
    OrderStatus.ACCEPTED: _("Accepted"),
    OrderStatus.PREPARING: _("Being prepared"),
    OrderStatus.READY: _("Ready for pick-up"),
    OrderStatus.PICKED_UP: _("Picked up by the courier"),
    OrderStatus.IN_DELIVERY: _("On its way"),
    OrderStatus.DELIVERED: _("Delivered"),
    OrderStatus.CANCELLED: _("Cancelled"),
}

FINISHED = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED})


@dataclass(frozen=True)
class Clock:
    """The visitor's clock: `now` and the zone their times are written in."""

    zone: ZoneInfo
    now: datetime

    def at(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone)
        time = formats.time_format(local, "TIME_FORMAT")
        if local.date() == self.now.astimezone(self.zone).date():
            return time
        return f"{formats.date_format(local, 'MONTH_DAY_FORMAT')} {time}"


def status_text(status: str) -> str:
    words = STATUS_WORDS.get(status)
    return str(words) if words is not None else status


def headline(order: Order) -> str:
    return gettext("Order %(order)s: %(status)s.") % {"order": order.external_id,
                                                       "status": status_text(order.status)}


def _late_minutes(order: Order) -> int:
    return order.delay_minutes if order.is_delayed and order.status not in FINISHED else 0


def _delay_lines(order: Order) -> list[str]:
    minutes = _late_minutes(order)
    if not minutes:
        return []
    lines = [gettext("%(minutes)s minutes late.") % {"minutes": minutes}]
    if order.delay_reason:
        lines.append(gettext("Reason: %(reason)s") % {"reason": order.delay_reason})
    return lines


def _courier_line(order: Order) -> list[str]:
    courier = order.courier
    if order.status in ORDER_ON_THE_WAY and courier is not None and courier.name:
        return [gettext("%(name)s is bringing it to you.") % {"name": courier.name}]
    return []


def status_lines(order: Order, clock: Clock) -> list[str]:
    """Where is my order: its status, its promised time and any delay (with the OMS's reason),
    and the courier bringing it."""
    lines = [headline(order)]
    if order.status == OrderStatus.DELIVERED and order.delivered_at is not None:
        lines.append(gettext("Delivered at %(time)s.") % {"time": clock.at(order.delivered_at)})
    elif order.status != OrderStatus.CANCELLED and order.promised_at is not None:
        lines.append(gettext("Promised for %(time)s.") % {"time": clock.at(order.promised_at)})
    return lines + _delay_lines(order) + _courier_line(order)


def late_lines(order: Order, clock: Clock) -> list[str]:
    """It is late: the delay and the new estimate, or that it is not late."""
    lines = [headline(order)]
    if order.status == OrderStatus.DELIVERED:
        if order.delivered_at is not None:
            lines.append(gettext("Delivered at %(time)s.") % {"time": clock.at(order.delivered_at)})
        return lines
    if order.status == OrderStatus.CANCELLED:
        return lines
    minutes = _late_minutes(order)
    if minutes and order.promised_at is not None:
        estimate = order.promised_at + timedelta(minutes=minutes)
        lines.append(gettext("It is running %(minutes)s minutes late; the new estimate is %(time)s.")
                     % {"minutes": minutes, "time": clock.at(estimate)})
        if order.delay_reason:
            lines.append(gettext("Reason: %(reason)s") % {"reason": order.delay_reason})
    elif minutes:
        lines += _delay_lines(order)
    elif order.promised_at is not None:
        lines.append(gettext("It is not late: it is expected by %(time)s.")
                     % {"time": clock.at(order.promised_at)})
    else:
        lines.append(gettext("It is not late."))
    return lines + _courier_line(order)


def cancel_question(order: Order) -> str:
    return gettext("Cancel order %(order)s? This cannot be undone.") % {"order": order.external_id}


def cancelled_text(order: Order) -> str:
    return gettext("Order %(order)s is cancelled.") % {"order": order.external_id}


def cancel_refused_text(order: Order, code: str) -> str:
    """Why the order cannot be cancelled, from the OMS's refusal code (its own text never reaches
    the customer: it is in the OMS's language and words)."""
    texts = {
        "in_delivery": gettext("Order %(order)s can no longer be cancelled: it is already on its way."),
        "delivered": gettext("Order %(order)s has been delivered, so it can no longer be cancelled."),
        "already_cancelled": gettext("Order %(order)s was already cancelled."),
    }
    text = texts.get(code) or gettext("The shop could not cancel order %(order)s. An agent can help you.")
    return text % {"order": order.external_id}


def unavailable_text() -> str:
    return gettext("We cannot reach the order system right now. Try again in a few minutes, or talk to an agent.")


def missing_item_text(order: Order) -> str:
    return gettext("We have opened a chat about the missing item in order %(order)s. Tell us what is missing; "
                   "an agent will answer here.") % {"order": order.external_id}


def order_topics(order: Order) -> list[str]:
    """The questions an order's card offers: where it is always; late until it arrives; cancel
    while the OMS may still cancel it; a missing item once delivered."""
    topics = [Topic.ORDER_STATUS.value]
    if order.status not in FINISHED:
        topics.append(Topic.LATE.value)
    if order.status in ORDER_CANCELLABLE:
        topics.append(Topic.CANCEL.value)
    if order.status == OrderStatus.DELIVERED:
        topics.append(Topic.MISSING_ITEM.value)
    return topics


def order_card(order: Order, clock: Clock) -> dict[str, Any]:
    """An order as the widget lists it (the courier on the way is part of its status lines)."""
    return {"id": order.pk, "reference": order.external_id, "status": order.status,
            "status_text": status_text(order.status), "late_minutes": _late_minutes(order),
            "lines": status_lines(order, clock)[1:], "topics": order_topics(order)}


def courier_lines(order: Order | None, clock: Clock) -> list[str]:
    """A courier's current delivery: the order, where to pick it up and whom it is for."""
    if order is None:
        return [gettext("You have no delivery right now.")]
    lines = [headline(order)]
    partner, customer = order.partner, order.customer
    if partner is not None and (partner.store_name or partner.name):
        lines.append(gettext("Pick up at %(store)s.") % {"store": partner.store_name or partner.name})
    if customer is not None and customer.name:
        lines.append(gettext("Deliver to %(name)s.") % {"name": customer.name})
    if order.promised_at is not None:
        lines.append(gettext("Promised for %(time)s.") % {"time": clock.at(order.promised_at)})
    return lines + _delay_lines(order)


def partner_lines(*, counts: dict[str, int], late: Iterable[Order]) -> list[str]:
    """A partner's store today: its orders by status, and those late now."""
    total = sum(counts.values())
    lines = [gettext("Orders today: %(count)s.") % {"count": total}]
    lines += [f"{status_text(status)}: {counts[status]}" for status in OrderStatus.values if counts.get(status)]
    late = list(late)
    lines.append(gettext("Late right now: %(count)s.") % {"count": len(late)})
    lines += [gettext("Order %(order)s: %(minutes)s minutes late.") % {"order": order.external_id,
                                                                      "minutes": order.delay_minutes}
              for order in late]
    return lines
