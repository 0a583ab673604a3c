"""The widget's self-service: answers without an agent for a contact the host site signed in,
about a customer's orders, a courier's current delivery or a partner's store today; and, under
every answer, one click to an agent, whose chat carries the order.

**One way in.** Every answer the customer reads is made by `self_service_answer` (the widget's
buttons, a first message recognised as an order question, a courier's or partner's panel), so
whatever later records what self-service answered (deflection) hooks in there, once.

**Cancelling** goes to the OMS through the order-action interface (conversations.order_actions;
integrations registers the OMS's), with one idempotency key per order, so a retry after a
timeout or a second click cancels once. The desk offers it only while the mirror's status allows
(timeline.models.ORDER_CANCELLABLE); the OMS has the last word, and its refusal is said in the
customer's language from its code. The mirror is updated from the OMS's answer at once (the
order.cancelled webhook that follows changes nothing more: same status, same time).

**A missing item** opens a chat (routed as any chat) with the order attached, the contact reason
and intent set to missing_item, and a note telling the agent where it came from.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from conversations import self_service as texts
from conversations import widget
from conversations.access import access_visitor_contact, access_visitor_order
from conversations.deflection import deflection_answered
from conversations.models import Conversation, MessageDirection
from conversations.order_actions import (
    ORDER_CANCEL,
    OrderActionRefused,
    OrderActionUnavailable,
    order_action_perform,
)
from conversations.selectors import courier_current_delivery, customer_recent_orders, partner_day
from conversations.self_service import ORDER_TOPICS, Clock, Topic
from conversations.services.common import check_body, check_client_id
from conversations.services.messages import message_create
from conversations.services.visitors import chat_current, chat_current_or_open
from conversations.widget_hours import visitor_zone
from supportdesk.errors import DomainError, NotFound
from timeline.models import Contact, ContactKind, Order, OrderStatus, order_cancel_refusal
from timeline.services import order_upsert

logger = logging.getLogger(__name__)

RECENT_ORDERS = 5
CANCEL_REASON = "customer_self_service"
# The contact reason a self-service topic opens its chat with (routing matches on it).
CONTACT_REASONS = {Topic.MISSING_ITEM: "missing_item"}


class Outcome(StrEnum):
    ANSWERED = "answered"
    CONFIRM = "confirm"  # cancelling asks first: it cannot be undone
    REFUSED = "refused"  # the OMS (or the order's status) says no
    UNAVAILABLE = "unavailable"  # the OMS did not answer: try again later
    CHAT_OPENED = "chat_opened"  # an agent takes it from here (a missing item)


# The answers that settle the question without an agent (a refusal too: the customer knows where
# they stand), recorded for the deflection count; asking to confirm, an OMS that did not answer and
# a chat opened are not.
DEFLECTING_OUTCOMES = frozenset({Outcome.ANSWERED, Outcome.REFUSED})


@dataclass
class Answer:
    """One self-service answer: its lines of text in the customer's language, and the order it
    is about as the widget lists it."""

    topic: str
    outcome: str
    lines: list[str]
    order: dict[str, Any] | None = None
    conversation_id: int | None = None
    question: str = ""  # the customer's own words, when their first message was answered
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


def _clock(time_zone: str) -> Clock:
    return Clock(zone=visitor_zone(time_zone) or ZoneInfo(settings.TIME_ZONE), now=timezone.now())


def _topic(value: Any) -> Topic:
    try:
        return Topic(value)
    except ValueError:
        raise DomainError(gettext("topic must be one of %(topics)s.") % {"topics": ", ".join(Topic)},
                          code="invalid_topic") from None


def self_service_overview(*, session: widget.Session, language: str, time_zone: str = "") -> dict[str, Any]:
    """What the widget shows before a chat: a customer's recent orders, a courier's delivery or a
    partner's store (as an answer); nothing for an anonymous visitor."""
    if not session.contact_id:
        return {"kind": "", "orders": [], "answer": None}
    contact = access_visitor_contact(session=session)
    if contact.kind == ContactKind.CUSTOMER:
        clock = _clock(time_zone)
        with translation.override(language):
            orders = [texts.order_card(order, clock)
                      for order in customer_recent_orders(customer_id=contact.pk, limit=RECENT_ORDERS)]
        return {"kind": contact.kind, "orders": orders, "answer": None}
    topic = Topic.COURIER_DELIVERY if contact.kind == ContactKind.COURIER else Topic.PARTNER_STORE
    # Shown as the widget opens, before any question: not an answer to count as self-service.
    answer = self_service_answer(session=session, topic=topic, language=language, time_zone=time_zone,
                                 record=False)
    return {"kind": contact.kind, "orders": [], "answer": answer.as_json()}


def self_service_answer(*, session: widget.Session, topic: Any, language: str, time_zone: str = "",
                        order_id: Any = None, confirm: bool = False, question: str = "", client_id: Any = "",
                        confidence: float | None = None, record: bool = True) -> Answer:
    """The one place a self-service answer is made (see the module's docstring).

    `topic`: an order's (order_status, late, cancel, missing_item: `order_id` names the signed-in
    customer's order; anyone else's is not found), or courier_delivery / partner_store for a
    courier or a partner. `confirm`: the customer confirmed a cancel. `question`, `client_id`
    and `confidence`: the first message that asked, its client id and the intent's confidence.
    `record`: count it as self-service (conversations.deflection) when it settles the question.
    """
    topic = _topic(topic)
    contact = access_visitor_contact(session=session)
    clock = _clock(time_zone)
    with translation.override(language):
        if topic in ORDER_TOPICS:
            order = access_visitor_order(session=session, order_id=order_id)
            if topic == Topic.MISSING_ITEM and topic not in texts.order_topics(order):
                # A missing item once the order is delivered, as its card offers.
                raise NotFound(gettext("Nothing to show for this topic."), code="topic_not_offered")
            answer = _order_answer(topic, order=order, contact=contact, clock=clock, confirm=confirm,
                                   question=question, client_id=client_id, confidence=confidence)
            answer.order = texts.order_card(order, clock)
        elif topic == Topic.COURIER_DELIVERY and contact.kind == ContactKind.COURIER:
            order = courier_current_delivery(courier=contact)
            answer = Answer(topic=topic, outcome=Outcome.ANSWERED, lines=texts.courier_lines(order, clock),
                            extra={"order_reference": order.external_id if order else ""})
        elif topic == Topic.PARTNER_STORE and contact.kind == ContactKind.PARTNER:
            day = clock.now.astimezone(clock.zone).replace(hour=0, minute=0, second=0, microsecond=0)
            counts, late = partner_day(partner_id=contact.pk, since=day)
            answer = Answer(topic=topic, outcome=Outcome.ANSWERED,
                            lines=texts.partner_lines(counts=counts, late=late))
        else:
            raise NotFound(gettext("Nothing to show for this topic."), code="topic_not_yours")
    answer.question = question
    if record and answer.outcome in DEFLECTING_OUTCOMES:
        _deflection_record(session, answer, language=language, question=question)
    return answer


def _deflection_record(session: widget.Session, answer: Answer, *, language: str, question: str) -> None:
    """Answered without an agent: deflected unless a conversation follows within 24 hours, and
    what the customer was told is what the agent then reads (conversations.deflection). A count,
    so it never fails the answer (a cancel may already be done): a failure is logged."""
    reference = (answer.order or {}).get("id") or answer.topic  # the order's id: bounded, unlike its external id
    try:
        deflection_answered(session, str(answer.topic), str(reference), title=" ".join(answer.lines),
                            language=language, query=question)
    except Exception:  # noqa: BLE001 - see the docstring
        logger.exception("a self-service answer could not be counted")


def _order_answer(topic: Topic, *, order: Order, contact: Contact, clock: Clock, confirm: bool, question: str,
                  client_id: Any, confidence: float | None) -> Answer:
    if topic == Topic.ORDER_STATUS:
        return Answer(topic=topic, outcome=Outcome.ANSWERED, lines=texts.status_lines(order, clock))
    if topic == Topic.LATE:
        return Answer(topic=topic, outcome=Outcome.ANSWERED, lines=texts.late_lines(order, clock))
    if topic == Topic.CANCEL:
        return _order_cancel(order, confirm=confirm)
    conversation = _order_chat_open(contact=contact, order=order, topic=topic, text=question, client_id=client_id,
                                    intent_confidence=confidence if confidence is not None else 1.0)
    return Answer(topic=topic, outcome=Outcome.CHAT_OPENED, lines=[texts.missing_item_text(order)],
                  conversation_id=conversation.pk)


def _cancel_key(order: Order) -> str:
    # One key per order: an order is cancelled once, whichever click or retry gets through.
    return f"self-service-cancel:{order.external_id}"


def _order_cancel(order: Order, *, confirm: bool) -> Answer:
    key = _cancel_key(order)
    refusal = order_cancel_refusal(order.status)
    if refusal == "already_cancelled" and order.status_history.filter(source_event_id=key).exists():
        # Cancelled here before (the answer was lost on its way, or clicked twice): say so again.
        return Answer(topic=Topic.CANCEL, outcome=Outcome.ANSWERED, lines=[texts.cancelled_text(order)])
    if refusal is not None:
        return Answer(topic=Topic.CANCEL, outcome=Outcome.REFUSED,
                      lines=[texts.cancel_refused_text(order, refusal)])
    if not confirm:
        return Answer(topic=Topic.CANCEL, outcome=Outcome.CONFIRM,
                      lines=[texts.headline(order), texts.cancel_question(order)])
    try:
        done = order_action_perform(name=ORDER_CANCEL, order=order, reason=CANCEL_REASON, idempotency_key=key)
    except OrderActionRefused as refused:
        logger.info("the OMS refused to cancel order %s: %s", order.external_id, refused)
        return Answer(topic=Topic.CANCEL, outcome=Outcome.REFUSED,
                      lines=[texts.cancel_refused_text(order, refused.code)])
    except OrderActionUnavailable as error:
        logger.warning("the OMS could not be asked to cancel order %s: %s", order.external_id, error)
        return Answer(topic=Topic.CANCEL, outcome=Outcome.UNAVAILABLE, lines=[texts.unavailable_text()])
    at = done.at or timezone.now()
    status = done.status if done.status in OrderStatus.values else OrderStatus.CANCELLED
    fields: dict[str, Any] = {"status": status}
    if status == OrderStatus.CANCELLED:
        fields["cancelled_at"] = at
    mirrored = order_upsert(external_id=order.external_id, fields=fields, occurred_at=at, source_event_id=key,
                            actor="widget").order
    order.status, order.cancelled_at = mirrored.status, mirrored.cancelled_at
    if order.status != OrderStatus.CANCELLED:  # the OMS answered with the order in another state
        return Answer(topic=Topic.CANCEL, outcome=Outcome.REFUSED,
                      lines=[texts.cancel_refused_text(order, order_cancel_refusal(order.status) or "")])
    return Answer(topic=Topic.CANCEL, outcome=Outcome.ANSWERED, lines=[texts.cancelled_text(order)])


def _order_chat_open(*, contact: Contact, order: Order | None, topic: Topic, text: str = "", client_id: Any = "",
                     intent_confidence: float | None = None) -> Conversation:
    """The contact's chat (a new one, routed as any chat, or the one going on) carrying the order,
    with a note for the agent and the customer's words, if any, as its first message. Sent again
    with the same client id (a retry), it adds nothing."""
    client_id = check_client_id(client_id)
    if text:
        text = check_body(text)
    reason = CONTACT_REASONS.get(topic, "")
    with transaction.atomic():
        conversation = chat_current_or_open(contact=contact, contact_reason=reason, client_id=client_id)
        updates: dict[str, Any] = {}
        if order is not None and conversation.order_id is None:
            updates["order"] = order
        if intent_confidence is not None and conversation.intent_confidence is None:
            updates.update(intent=topic.value, intent_confidence=round(intent_confidence, 4))
        if reason and not conversation.contact_reason:
            updates["contact_reason"] = reason
        if updates:
            Conversation.objects.filter(pk=conversation.pk).update(**updates)
            for name, value in updates.items():
                setattr(conversation, name, value)
        if "order" in updates or (order is None and conversation.last_message_sequence == 0):
            with translation.override(settings.LANGUAGE_CODE):  # the desk's language, not the customer's
                message_create(conversation=conversation, direction=MessageDirection.NOTE, system_note=True,
                               body=_agent_note(topic=topic, order=order))
        if text:
            message_create(conversation=conversation, direction=MessageDirection.INBOUND, body=text,
                           client_id=client_id)
    return conversation


def _agent_note(*, topic: Topic, order: Order | None) -> str:
    topics = {
        Topic.ORDER_STATUS: gettext("where the order is"), Topic.LATE: gettext("a late order"),
        Topic.CANCEL: gettext("cancelling the order"), Topic.MISSING_ITEM: gettext("a missing item"),
        Topic.COURIER_DELIVERY: gettext("their current delivery"), Topic.PARTNER_STORE: gettext("their store"),
    }
    if order is None:
        return gettext("From the widget's self-service, about %(topic)s.") % {"topic": topics[topic]}
    return gettext("From the widget's self-service, about %(topic)s: order %(order)s (%(status)s).") % {
        "topic": topics[topic], "order": order.external_id, "status": order.get_status_display()}


def self_service_agent_chat(*, session: widget.Session, topic: Any = "", order_id: Any = None, text: Any = "",
                            client_id: Any = "") -> Conversation:
    """"Talk to an agent" under an answer: a chat as any other, carrying the order it was about
    (and the customer's first message, when self-service answered that)."""
    contact = access_visitor_contact(session=session)
    topic = _topic(topic or Topic.ORDER_STATUS)
    if text and not isinstance(text, str):
        raise DomainError(gettext("text must be the customer's message."), code="invalid_text")
    order = None
    if order_id is not None:
        order = access_visitor_order(session=session, order_id=order_id)
    elif topic == Topic.COURIER_DELIVERY and contact.kind == ContactKind.COURIER:
        order = courier_current_delivery(courier=contact)
    return _order_chat_open(contact=contact, order=order, topic=topic, text=text or "", client_id=client_id)


def self_service_first_message(*, session: widget.Session, text: Any, language: str, time_zone: str = "",
                               client_id: Any = "", threshold: float | None = None) -> Answer | None:
    """A signed-in customer's first message before any chat: answered from self-service, about
    their newest order, when it asks where an order is, that it is late, to cancel it or about a
    missing item (conversations.intents, at or above `threshold`, by default the model's). None
    otherwise (anonymous, no orders, a chat going on, unsure, another intent): it then opens a
    chat, as any message."""
    from conversations.intents import DEFAULT_THRESHOLD, Intent, intent_of  # scikit-learn: only where it runs

    text = check_body(text)
    if not session.contact_id:
        return None
    contact = access_visitor_contact(session=session)
    if contact.kind != ContactKind.CUSTOMER or chat_current(contact_id=contact.pk) is not None:
        return None
    newest = customer_recent_orders(customer_id=contact.pk, limit=1)
    if not newest:
        return None
    try:
        guess = intent_of(text, language, threshold=DEFAULT_THRESHOLD if threshold is None else threshold)
    except Exception:  # noqa: BLE001 - a failed guess sends the customer to an agent, never nowhere
        logger.exception("intent recognition failed for a widget's first message")
        return None
    if guess.intent is None or guess.intent not in (Intent.ORDER_STATUS, Intent.LATE, Intent.CANCEL,
                                                    Intent.MISSING_ITEM):
        return None
    if guess.intent == Intent.MISSING_ITEM and guess.intent.value not in texts.order_topics(newest[0]):
        return None  # a missing item from an order not delivered yet: another order, for an agent
    return self_service_answer(session=session, topic=guess.intent.value, order_id=newest[0].pk, language=language,
                               time_zone=time_zone, question=text, client_id=client_id,
                               confidence=guess.confidence)
