"""The supervisors' desk pages: ongoing conversations (open one, join it with a whisper, take it
over) and the agents' presence. Plain server-rendered pages and forms (post, then redirect),
so they work without the socket; each view calls one function of `conversations.supervision`,
which checks the supervisor permission (agents get 403, like any refused desk request).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from conversations import selectors, supervision
from conversations.live import duration_text
from conversations.models import CallReason
from conversations.workspace import MESSAGES_SHOWN, desk_view
from routing.models import AgentProfile, Queue
from supportdesk.ids import id_from_text

PAGE_SIZE = 50
AGENTS_IN_FILTER = 500  # the agent filter's options; more agents than that are found by id


def _page_number(value: Any) -> int:
    return id_from_text(value) or 1


def _agent_id(value: Any) -> int | None:
    return id_from_text(value)


@require_GET
@desk_view
def ongoing(request: HttpRequest) -> HttpResponse:
    """Every ongoing conversation, filterable by queue, agent and state, a page at a time."""
    chosen = {"queue": request.GET.get("queue", ""), "agent": _agent_id(request.GET.get("agent")),
              "state": request.GET.get("state", "")}
    conversations = supervision.ongoing_conversations(
        user=request.user, queue_key=chosen["queue"], agent_user_id=chosen["agent"], state=chosen["state"])
    page = Paginator(conversations, PAGE_SIZE).get_page(_page_number(request.GET.get("page")))
    rows = [{"row": row, "waited": duration_text(row.waiting_seconds) if row.waiting_seconds is not None else ""}
            for row in supervision.ongoing_rows(list(page.object_list))]
    filters = urlencode({key: value for key, value in chosen.items() if value})
    return render(request, "desk/supervise.html", {
        "rows": rows, "page": page, "chosen": chosen, "filters": filters,
        "queues": Queue.objects.filter(is_active=True).order_by("key").values_list("key", flat=True),
        "agents": AgentProfile.objects.select_related("user").order_by("user__username")[:AGENTS_IN_FILTER],
        "states": supervision.STATE_LABELS.items(),
    })


@require_GET
@desk_view
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """One conversation as its agent sees it (the thread, internal notes included, and the
    contact's timeline), with the whisper and take-over forms."""
    conversation, item = supervision.ongoing_conversation(user=request.user, conversation_id=conversation_id)
    messages = selectors.messages_after(
        conversation_id=conversation.pk, notes=True, limit=MESSAGES_SHOWN,
        after=max(conversation.last_message_sequence - MESSAGES_SHOWN, 0))
    return render(request, "desk/supervise_conversation.html", {
        "conversation": conversation, "item": item, "messages": messages,
        "state_label": supervision.STATE_LABELS.get(item.state, "") if item is not None else "",
        "ongoing": conversation.status in supervision.ONGOING_STATUSES,
        # One id per rendered form: a whisper sent twice (a double click, a retry) is stored once.
        "client_id": uuid.uuid4().hex,
    })


@require_POST
@desk_view
def whisper(request: HttpRequest, conversation_id: int) -> HttpResponse:
    supervision.conversation_whisper(user=request.user, conversation_id=conversation_id,
                                     body=request.POST.get("body", ""),
                                     client_id=request.POST.get("client_id", ""))
    return HttpResponseRedirect(reverse("desk:supervise_conversation", args=[conversation_id]))


@require_POST
@desk_view
def take_over(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Assigned to the supervisor, who goes on in the workspace with it open."""
    supervision.conversation_take_over(user=request.user, conversation_id=conversation_id)
    return HttpResponseRedirect(reverse("desk:conversation_page", args=[conversation_id]))


@require_GET
@desk_view
def agents(request: HttpRequest) -> HttpResponse:
    page = Paginator(supervision.agents_for_presence(user=request.user), PAGE_SIZE).get_page(
        _page_number(request.GET.get("page")))
    return render(request, "desk/supervise_agents.html",
                  {"page": page, "presences": supervision.PRESENCE_LABELS.items()})


@require_POST
@desk_view
def agent_presence(request: HttpRequest, user_id: int) -> HttpResponse:
    supervision.agent_presence_set(user=request.user, agent_user_id=user_id,
                                   presence=request.POST.get("presence", ""))
    page = _page_number(request.POST.get("page"))
    return HttpResponseRedirect(reverse("desk:supervise_agents") + (f"?page={page}" if page > 1 else ""))


CALL_INVITATION_PERIODS = (1, 7, 30)  # days the proactive calls' table may look back


@require_GET
@desk_view
def call_invitations(request: HttpRequest) -> HttpResponse:
    """Proactive calls (seed 002) per agent, and inactivity calls apart: offered, accepted,
    refused, completed over the last 1, 7 or 30 days."""
    supervision.check_supervisor(request.user)
    days = id_from_text(request.GET.get("days")) or 7
    days = days if days in CALL_INVITATION_PERIODS else 7
    rows = selectors.call_invitation_counts(since=timezone.now() - timedelta(days=days))
    return render(request, "calls/supervise_invitations.html", {
        "days": days, "periods": CALL_INVITATION_PERIODS,
        "sections": [(reason, label, [row for row in rows if row["reason"] == reason])
                     for reason, label in ((CallReason.PROACTIVE, CallReason.PROACTIVE.label),
                                           (CallReason.INACTIVITY, CallReason.INACTIVITY.label))],
    })
