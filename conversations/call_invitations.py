"""Proactive calls (seed 002), the pages: the agent's "Send call invitation" panel in the
workspace (with the small contact-reason form rule 1 may need), and the customer's public
consent page the signed link opens.

Adapters only (STYLE #5): the rules, the send and the answer are
`conversations.services.proactive_calls`; who may see what is `conversations.access`
(the desk's views through `access_conversation`, the public page through
`access_call_invitation_link`: the signed link is its only access).

The public page works like the survey's (workflows.surveys.views): no login, in the
conversation's language, and a link that is forged (400), expired, used already or whose chat
has ended (410) gets a page saying so, never a 500.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from conversations import access
from conversations.models import CallInvitation, CallInvitationState, CallReason, ContactReason, Conversation
from conversations.selectors import author_name
from conversations.services import proactive_calls
from conversations.workspace import desk_view
from supportdesk import languages
from supportdesk.errors import DomainError

# --- the agent's panel ----------------------------------------------------------------------------


def _panel(request: HttpRequest, conversation: Conversation, *, status: int = 200) -> HttpResponse:
    user = request.user
    try:
        access.access_conversation(user=user, conversation_id=conversation.pk, act=True)
        may_act = True
    except DomainError:
        may_act = False
    failed = proactive_calls.call_offer_check(conversation, user) if may_act else []
    latest = (CallInvitation.objects.filter(conversation_id=conversation.pk).select_related("call")
              .order_by("-created_at", "-pk").first())
    return render(request, "calls/_invite_panel.html", {
        "conversation": conversation, "may_act": may_act, "failed": failed, "latest": latest,
        "pending": latest is not None and latest.state == CallInvitationState.SENT and any(
            rule.rule == proactive_calls.Rule.PENDING for rule in failed),
        "reason_failed": any(rule.rule == proactive_calls.Rule.CONTACT_REASON for rule in failed),
        "reasons": ContactReason.objects.filter(is_active=True).order_by("-calls_enabled", "label"),
        "inactivity": CallReason.INACTIVITY,
        # One id per rendered form: a double click or a retried POST sends one invitation.
        "client_id": uuid.uuid4().hex,
    }, status=status)


@require_http_methods(["GET", "POST"])
@desk_view
def invitation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """GET: the panel (the button, enabled or saying which rule fails). POST: send the
    invitation (201; 200 for a retry of one sent already; 409 naming the failing rule)."""
    status = 200
    if request.method == "POST":
        sent = proactive_calls.call_invitation_send(
            conversation_id=conversation_id, agent=request.user,
            reason=request.POST.get("reason") or CallReason.PROACTIVE, client_id=request.POST.get("client_id", ""))
        status = 200 if sent.replayed else 201
    conversation = access.access_conversation(user=request.user, conversation_id=conversation_id)
    return _panel(request, conversation, status=status)


@require_POST
@desk_view
def contact_reason_set(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Set the chat's contact reason without resolving it; answers with the panel again."""
    conversation = proactive_calls.conversation_contact_reason_set(
        conversation_id=conversation_id, user=request.user, contact_reason=request.POST.get("contact_reason", ""))
    return _panel(request, conversation)


# --- the customer's consent page --------------------------------------------------------------------


class ConsentForm(forms.Form):
    phone = forms.CharField(label=_("Your phone number"), max_length=40, required=False,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel",
                                                          "data-testid": "consent-phone"}))


def _language(request: HttpRequest, invitation: CallInvitation | None) -> str:
    contact_language = proactive_calls.customer_language(invitation.conversation) if invitation else ""
    return languages.customer_language(contact_language=contact_language, request=request)


def _problem(request: HttpRequest, error: DomainError) -> HttpResponse:
    return render(request, "calls/problem.html", {"code": error.code, "message": error.message,
                                                  "language": translation.get_language()},
                  status=error.status_code)


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's choice: "Call me now" (with their number, prefilled from the contact)
    or "Continue in chat"."""
    with translation.override(_language(request, None)):  # the link's errors in the browser's language
        try:
            invitation = access.access_call_invitation_link(token=token)
        except DomainError as error:
            return _problem(request, error)
    with translation.override(_language(request, invitation)):
        context: dict[str, Any] = {"language": translation.get_language(), "invitation": invitation,
                                   "agent_name": author_name(invitation.agent)}
        if request.method == "POST":
            form = ConsentForm(request.POST)
            form.is_valid()
            choice = request.POST.get("choice")
            if choice not in ("call", "chat"):
                form.add_error(None, gettext("Choose “Call me now” or “Continue in chat”."))
                return render(request, "calls/consent.html", {**context, "form": form}, status=400)
            accept = choice == "call"
            try:
                invitation = proactive_calls.call_invitation_answer(
                    invitation_id=invitation.pk, accept=accept, phone=form.cleaned_data.get("phone", ""))
            except proactive_calls.InvalidPhone as error:
                form.add_error("phone", error.message)
                return render(request, "calls/consent.html", {**context, "form": form}, status=400)
            except DomainError as error:
                return _problem(request, error)
            return render(request, "calls/answered.html", {**context, "invitation": invitation})
        try:
            proactive_calls.check_invitation_open(invitation)
        except DomainError as error:
            return _problem(request, error)
        form = ConsentForm(initial={"phone": invitation.phone or invitation.conversation.contact.phone})
        return render(request, "calls/consent.html", {**context, "form": form})

