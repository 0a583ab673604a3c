"""What a workflow's (or a segment's) conditions can test: the attribute catalogue, per scope,
with a type each, and the loaders that compute those attributes for contacts, orders and
conversations.

Names are scoped ("contact.tier", "order.minutes_past_promise", "conversation.queue"), so a
condition reads unambiguously and a status is never mistaken for another's. Custom
attributes are "contact.attributes.<name>" and "conversation.attributes.<name>"; their type
is whatever the value is, so every operator fits them.

Conditions themselves are `supportdesk.conditions` JSON; `condition_errors` here adds what
that module cannot know: which names exist in the scopes at hand and which operators fit
each one's type.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conversations.models import Conversation
from routing.models import WorkItem
from supportdesk import conditions
from timeline.models import Contact, Order

# Types, and the operators that fit each.
STRING, NUMBER, BOOLEAN, LIST, ANY = "string", "number", "boolean", "list", "any"
TYPE_OPERATORS: dict[str, frozenset[str]] = {
    STRING: frozenset({"eq", "ne", "in", "not_in", "contains", "exists"}),
    NUMBER: frozenset({"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists"}),
    BOOLEAN: frozenset({"eq", "ne", "exists"}),
    LIST: frozenset({"contains", "exists"}),
    ANY: frozenset(conditions.OPERATORS),
}

CONTACT, ORDER, CONVERSATION = "contact", "order", "conversation"
SCOPES = (CONTACT, ORDER, CONVERSATION)
CUSTOM = "attributes"  # contact.attributes.<name>, conversation.attributes.<name>
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RECENT_CONVERSATION_DAYS = (7, 30, 90)
DELAYED_ORDER_DAYS = 30


@dataclass(frozen=True)
class Attribute:
    name: str  # scoped, e.g. "contact.tier"
    type: str
    label: Any  # lazy translation


def _catalogue() -> dict[str, Attribute]:
    entries = [
        (CONTACT, "kind", STRING, gettext_lazy("Contact kind (customer, courier, partner)")),
        (CONTACT, "language", STRING, gettext_lazy("Preferred language")),
        (CONTACT, "country", STRING, gettext_lazy("Country (ISO code)")),
        (CONTACT, "tier", STRING, gettext_lazy("Customer tier")),
        (CONTACT, "lifetime_order_value", NUMBER, gettext_lazy("Lifetime order value")),
        (CONTACT, "order_count", NUMBER, gettext_lazy("Number of orders")),
        (CONTACT, "tags", LIST, gettext_lazy("Tags")),
        (CONTACT, "last_rating", NUMBER, gettext_lazy("Last rating (1 to 5)")),
        (CONTACT, "rating_avg_90d", NUMBER, gettext_lazy("Average rating over 90 days")),
        (CONTACT, "rating_count", NUMBER, gettext_lazy("Number of ratings")),
        *[(CONTACT, f"conversations_last_{days}_days", NUMBER,
           gettext_lazy("Conversations in the last %(days)s days") % {"days": days})
          for days in RECENT_CONVERSATION_DAYS],
        (CONTACT, f"delayed_orders_last_{DELAYED_ORDER_DAYS}_days", NUMBER,
         gettext_lazy("Delayed orders in the last %(days)s days") % {"days": DELAYED_ORDER_DAYS}),
        (CONTACT, "opted_out", BOOLEAN, gettext_lazy("Opted out of proactive messages")),
        (ORDER, "status", STRING, gettext_lazy("Order status")),
        (ORDER, "total", NUMBER, gettext_lazy("Order total")),
        (ORDER, "currency", STRING, gettext_lazy("Order currency")),
        (ORDER, "delay_minutes", NUMBER, gettext_lazy("Announced delay (minutes)")),
        (ORDER, "minutes_past_promise", NUMBER, gettext_lazy("Minutes past the promised time")),
        (ORDER, "partner", STRING, gettext_lazy("Partner (store) id")),
        (ORDER, "is_delayed", BOOLEAN, gettext_lazy("Order is delayed")),
        (CONVERSATION, "channel", STRING, gettext_lazy("Conversation channel")),
        (CONVERSATION, "queue", STRING, gettext_lazy("Conversation queue")),
        (CONVERSATION, "status", STRING, gettext_lazy("Conversation status")),
        (CONVERSATION, "contact_reason", STRING, gettext_lazy("Contact reason")),
        (CONVERSATION, "agent", STRING, gettext_lazy("Agent (username)")),
        (CONVERSATION, "language", STRING, gettext_lazy("Conversation language")),
        (CONVERSATION, "rating", NUMBER, gettext_lazy("Conversation rating (1 to 5)")),
    ]
    return {f"{scope}.{name}": Attribute(f"{scope}.{name}", kind, label)
            for scope, name, kind, label in entries}


CATALOGUE: dict[str, Attribute] = _catalogue()


def catalogue(scopes: Collection[str] = SCOPES) -> dict[str, Attribute]:
    """The attributes of these scopes, by name (custom attributes are not listed)."""
    return {name: attribute for name, attribute in CATALOGUE.items()
            if name.split(".", 1)[0] in scopes}


def attribute_type(name: str, scopes: Collection[str] = SCOPES) -> str | None:
    """The type of a scoped name in these scopes (custom attributes: ANY), or None if unknown."""
    if name in CATALOGUE:
        return CATALOGUE[name].type if name.split(".", 1)[0] in scopes else None
    scope, _, rest = name.partition(".")
    custom, _, key = rest.partition(".")
    if scope in scopes and scope in (CONTACT, CONVERSATION) and custom == CUSTOM \
            and _CUSTOM_NAME.match(key):
        return ANY
    return None


def condition_errors(condition: Any, scopes: Collection[str]) -> list[str]:
    """Everything wrong with a workflow or segment condition over these scopes; [] if valid:
    the shape and values (supportdesk.conditions), an unknown attribute, an operator that
    does not fit the attribute's type, a value of the wrong type."""
    if condition in (None, {}):
        return []  # no condition: always holds
    errors = conditions.condition_errors(condition)
    if errors:
        return errors
    return list(_leaf_errors(condition, scopes, "condition"))


def _leaf_errors(condition: Mapping[str, Any], scopes: Collection[str], path: str) -> Iterable[str]:
    for group in ("all", "any"):
        if group in condition:
            for index, part in enumerate(condition[group]):
                yield from _leaf_errors(part, scopes, f"{path}.{group}[{index}]")
            return
    name, op, value = condition["attribute"], condition["op"], condition.get("value")
    kind = attribute_type(name, scopes)
    if kind is None:
        yield _("%(path)s.attribute: unknown attribute %(name)r; known: %(known)s.") % {
            "path": path, "name": name, "known": ", ".join(sorted(catalogue(scopes)))}
        return
    if op not in TYPE_OPERATORS[kind]:
        yield _("%(path)s.op: %(op)s does not fit %(name)s (%(type)s); use one of %(ops)s.") % {
            "path": path, "op": op, "name": name, "type": kind,
            "ops": ", ".join(sorted(TYPE_OPERATORS[kind]))}
        return
    if op == "exists":
        return
    values = value if op in ("in", "not_in") else [value]
    for item in values:
        if not _fits(kind, op, item):
            yield _("%(path)s.value: %(value)r is not a %(type)s, as %(name)s is.") % {
                "path": path, "value": item, "type": kind, "name": name}
            return


def _fits(kind: str, op: str, value: Any) -> bool:
    if kind == NUMBER:
        return conditions._number(value) is not None
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind in (STRING, LIST):
        return isinstance(value, str)
    return True


# --- Loaders ---------------------------------------------------------------------------------

def contact_attributes(contact_ids: Iterable[int], *, now: datetime | None = None) -> dict[int, dict[str, Any]]:
    """The contact.* attributes of many contacts at once: {contact id: {name: value}}.

    Three queries whatever the number of contacts (the contacts, their recent
    conversations, their recent delayed orders), so a segment can evaluate thousands.
    """
    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        return {}
    now = now or timezone.now()
    fields = ("id", "kind", "preferred_language", "country", "tier", "lifetime_order_value",
              "order_count", "tags", "attributes", "last_rating", "rating_avg_90d", "rating_count",
              "opted_out")
    result: dict[int, dict[str, Any]] = {}
    for row in Contact.objects.filter(pk__in=ids).values(*fields):
        values = {
            "contact.kind": row["kind"], "contact.language": row["preferred_language"],
            "contact.country": row["country"], "contact.tier": row["tier"],
            "contact.lifetime_order_value": row["lifetime_order_value"],
            "contact.order_count": row["order_count"], "contact.tags": list(row["tags"] or []),
            "contact.last_rating": row["last_rating"], "contact.rating_avg_90d": row["rating_avg_90d"],
            "contact.rating_count": row["rating_count"], "contact.opted_out": row["opted_out"],
            f"contact.delayed_orders_last_{DELAYED_ORDER_DAYS}_days": 0,
            **{f"contact.conversations_last_{days}_days": 0 for days in RECENT_CONVERSATION_DAYS},
        }
        custom = row["attributes"] if isinstance(row["attributes"], dict) else {}
        values.update({f"contact.{CUSTOM}.{key}": value for key, value in custom.items()})
        result[row["id"]] = values
    counts = (Conversation.objects.filter(contact_id__in=ids,
                                          created_at__gte=now - timedelta(days=max(RECENT_CONVERSATION_DAYS)))
              .values("contact_id")
              .annotate(**{f"d{days}": Count("id", filter=Q(created_at__gte=now - timedelta(days=days)))
                           for days in RECENT_CONVERSATION_DAYS}))
    for row in counts:
        for days in RECENT_CONVERSATION_DAYS:
            result[row["contact_id"]][f"contact.conversations_last_{days}_days"] = row[f"d{days}"]
    delayed = (Order.objects.filter(customer_id__in=ids, is_delayed=True,
                                    placed_at__gte=now - timedelta(days=DELAYED_ORDER_DAYS))
               .values("customer_id").annotate(n=Count("id")))
    for row in delayed:
        result[row["customer_id"]][f"contact.delayed_orders_last_{DELAYED_ORDER_DAYS}_days"] = row["n"]
    return result


def order_attributes(order: Order, *, now: datetime | None = None) -> dict[str, Any]:
    """The order.* attributes of one order. minutes_past_promise: how late it is now (or was
    when delivered); 0 before the promised time, None without one."""
    now = now or timezone.now()
    past = None
    if order.promised_at is not None:
        until = order.delivered_at or order.cancelled_at or now
        past = max(int((until - order.promised_at).total_seconds() // 60), 0)
    partner = None
    if order.partner_id is not None:
        if Order.partner.is_cached(order):  # loaded with select_related: no query per order
            partner = order.partner.external_id
        else:
            partner = Contact.objects.filter(pk=order.partner_id).values_list("external_id", flat=True).first()
    return {
        "order.status": order.status, "order.total": Decimal(order.total),
        "order.currency": order.currency, "order.delay_minutes": order.delay_minutes,
        "order.minutes_past_promise": past, "order.partner": partner,
        "order.is_delayed": order.is_delayed,
    }


def conversation_attributes(conversation: Any) -> dict[str, Any]:
    """The conversation.* attributes of one conversation (its queue: its latest work item's)."""
    queue = (WorkItem.objects.filter(conversation_id=conversation.pk).order_by("-enqueued_at")
             .values_list("queue__key", flat=True).first())
    agent = None
    if conversation.assignee_id is not None:
        agent = conversation.assignee.get_username()
    values = {
        "conversation.channel": conversation.channel, "conversation.queue": queue,
        "conversation.status": conversation.status,
        "conversation.contact_reason": conversation.contact_reason or None,
        "conversation.agent": agent, "conversation.language": conversation.language or None,
        "conversation.rating": getattr(conversation, "rating", None),
    }
    custom = getattr(conversation, "attributes", None)
    if isinstance(custom, dict):
        values.update({f"conversation.{CUSTOM}.{key}": value for key, value in custom.items()})
    return values
