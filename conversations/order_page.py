"""The desk's page for one order: what was ordered, for how much, its status history, its
promised and delivered times, its contacts and their conversations since it was placed.
Access as for contacts (timeline.access: every agent and supervisor)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations.models import Conversation
from conversations.workspace import desk_view
from timeline.access import access_order
from timeline.models import Order

CONVERSATIONS_SHOWN = 20


def _item_line(item: Any) -> dict[str, Any]:
    """One line of the OMS's item list, whichever of its spellings it came in."""
    if not isinstance(item, dict):
        return {"name": str(item), "quantity": "", "price": ""}
    return {"name": item.get("name") or item.get("title") or item.get("sku") or "",
            "quantity": item.get("quantity", ""), "price": item.get("unit_price", item.get("price", ""))}


@require_GET
@desk_view
def order_page(request: HttpRequest, order_id: int) -> HttpResponse:
    order = access_order(user=request.user, order_id=order_id,
                         orders=Order.objects.select_related("customer", "courier", "partner"))
    conversations = Conversation.objects.none()
    if order.customer_id is not None:
        # The customer's conversations since the order was placed (index conversation_contact_newest).
        conversations = Conversation.objects.filter(contact_id=order.customer_id).order_by("-created_at")
        if order.placed_at is not None:
            conversations = conversations.filter(created_at__gte=order.placed_at)
    items = order.items if isinstance(order.items, list) else []
    return render(request, "desk/order.html", {
        "order": order, "items": [_item_line(item) for item in items],
        "history": order.status_history.order_by("occurred_at", "pk"),
        "conversations": conversations[:CONVERSATIONS_SHOWN],
    })
