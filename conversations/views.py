"""Pages of the desk. The agent workspace will grow here; for now the landing page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from conversations import access
from conversations.selectors import conversations_open_count
from timeline.selectors import contacts_count, orders_count


def home(request: HttpRequest) -> HttpResponse:
    """Where to go next, and how much the desk holds."""
    counts = None
    desk_user = access.is_desk_user(request.user)
    if desk_user:  # what the desk holds is the desk's business
        counts = {"contacts": contacts_count(), "orders": orders_count(),
                  "open_conversations": conversations_open_count()}
    return render(request, "home.html", {"counts": counts, "desk_user": desk_user})
