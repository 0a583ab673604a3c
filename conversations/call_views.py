"""The workspace's call panel: a conversation's phone calls, and the agent's hold, resume and
hang-up buttons (thin adapters over conversations.services.calls; access through
conversations.access, as every desk view)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from conversations import access, selectors
from conversations.models import CALL_ENDED, Conversation
from conversations.services import calls
from conversations.workspace import desk_view


def call_panel_context(*, user: object, conversation: Conversation) -> dict[str, object]:
    conversation_calls = selectors.conversation_calls(conversation_id=conversation.pk)
    active = next((call for call in conversation_calls if call.status not in CALL_ENDED), None)
    can_act = access.is_supervisor(user) or access.holds_conversation(user=user, conversation_id=conversation.pk)
    return {"conversation": conversation, "calls": conversation_calls, "active_call": active,
            "can_act_on_call": can_act and active is not None and active.agent_id == getattr(user, "pk", None)}


def _panel(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.access_conversation(user=request.user, conversation_id=conversation_id)
    return render(request, "desk/_calls.html", call_panel_context(user=request.user, conversation=conversation))


@require_GET
@desk_view
def call_panel(request: HttpRequest, conversation_id: int) -> HttpResponse:
    return _panel(request, conversation_id)


@require_POST
@desk_view
def call_hold(request: HttpRequest, conversation_id: int) -> HttpResponse:
    calls.call_hold(conversation_id=conversation_id, user=request.user, hold=True)
    return _panel(request, conversation_id)


@require_POST
@desk_view
def call_resume(request: HttpRequest, conversation_id: int) -> HttpResponse:
    calls.call_hold(conversation_id=conversation_id, user=request.user, hold=False)
    return _panel(request, conversation_id)


@require_POST
@desk_view
def call_hangup(request: HttpRequest, conversation_id: int) -> HttpResponse:
    calls.call_hangup(conversation_id=conversation_id, user=request.user)
    return _panel(request, conversation_id)
