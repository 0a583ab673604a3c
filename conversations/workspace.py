"""The agent workspace: server-rendered pages and htmx partials over the chat services.

Every view is an adapter (STYLE #5): it parses the form, calls one service or selector,
and renders a partial. What changes live (offers, messages, typing) arrives over the
agent's websocket (conversations.consumers.AgentConsumer); static/desk/workspace.js asks
these views for fresh partials when it does.

A refused input is a domain error with a code and a status: htmx requests get a short
error partial swapped into the page's flash area (HX-Retarget), whole pages get a page
with the message, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from conversations import access, channels, deflection, selectors, services, waiting
from conversations.models import Channel, ContactReason, Conversation, ConversationStatus, Message
from routing import services as routing
from routing.models import AgentProfile, Presence
from supportdesk.errors import DomainError, NotFound
from supportdesk.ids import id_from_text

View = Callable[..., HttpResponse]

REFRESH_LISTS = "desk-refresh"
MESSAGES_SHOWN = 200  # the offers and my-conversations partials reload on this event


# --- who may use the desk ----------------------------------------------------------------------


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error(request: HttpRequest, message: str, *, status: int, code: str = "invalid") -> HttpResponse:
    """The refusal as the page shows it: a flash partial for htmx, a page otherwise."""
    context = {"message": message, "code": code, "status": status}
    if _is_htmx(request):
        response = render(request, "desk/_error.html", context, status=status)
        # Wherever the request meant to swap, the error goes to the flash area instead.
        response["HX-Retarget"] = "#desk-flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "desk/error.html", context, status=status)


def desk_view(view: View) -> View:
    """Signed in, an agent or a supervisor; domain errors become readable answers."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            if _is_htmx(request):  # a partial cannot become a login page: reload into it
                response = HttpResponse(status=401)
                response["HX-Redirect"] = reverse("desk:login")
                return response
            return redirect_to_login(request.get_full_path(), reverse("desk:login"))
        if not access.is_desk_user(user):
            return _error(request, "The desk is for agents and supervisors. Ask a supervisor to "
                          "give your account an agent profile.", status=403, code="not_an_agent")
        try:
            return view(request, *args, **kwargs)
        except DomainError as error:
            return _error(request, error.message, status=error.status_code, code=error.code)

    return wrapper


def _refreshing(response: HttpResponse) -> HttpResponse:
    """Tell the page its offer and conversation lists changed (htmx fires the event)."""
    response["HX-Trigger"] = REFRESH_LISTS
    return response


# --- login ----------------------------------------------------------------------------------------


class DeskLoginView(auth_views.LoginView):
    template_name = "desk/login.html"
    next_page = reverse_lazy("desk:workspace")
    redirect_authenticated_user = True


class DeskLogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("desk:login")


def workspace_labels() -> dict[str, Any]:
    """The words static/desk/workspace.js writes, translated here (JS has no gettext of its
    own): the same words templates/desk/_message.html and get_status_display write."""
    return {"contact": gettext("Contact"), "system": gettext("System"), "note": gettext("internal note"),
            "statuses": {value: str(label) for value, label in ConversationStatus.choices},
            "socket": {"connecting": gettext("Connecting…"), "open": gettext("Connected"),
                       "closed": gettext("Disconnected; reconnecting…"), "stopped": gettext("Disconnected")},
            "refused": gettext("The live connection refused that."),
            "server_failed": gettext("The server failed to answer; try again."),
            "no_connection": gettext("No connection to the server; try again."),
            "timeout": gettext("The server took too long to answer; try again."),
            "choose_reason": gettext("Choose a contact reason, then press the shortcut again."),
            "choose_target": gettext("Choose a queue or an agent, then press the shortcut again."),
            "offer_title": gettext("New conversation offered"),
            "offer_body": gettext("Conversation #%(id)s (%(channel)s) is waiting for you.")}


def _shell_context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    profile = AgentProfile.objects.filter(user_id=user.pk).first()
    return {"profile": profile, "presences": Presence.choices, "is_supervisor": access.is_supervisor(user),
            "offers": selectors.agent_offers(user=user) if profile else [],
            "conversations": list(selectors.agent_conversations(user=user)) if profile else [],
            "workspace_labels": workspace_labels()}


def _conversation_context(request: HttpRequest, conversation: Conversation) -> dict[str, Any]:
    user = request.user
    # The latest MESSAGES_SHOWN (sequence numbers have no gaps); the socket's sync fills in after them.
    messages = selectors.messages_after(
        conversation_id=conversation.pk, notes=True, limit=MESSAGES_SHOWN,
        after=max(conversation.last_message_sequence - MESSAGES_SHOWN, 0))
    return {
        "conversation": conversation,
        "messages": messages,
        "last_sequence": messages[-1].sequence if messages else 0,
        "can_act": conversation.status in (ConversationStatus.OPEN, ConversationStatus.PENDING),
        "macros": selectors.macros_for(conversation=conversation, agent=user),
        "reasons": ContactReason.objects.filter(is_active=True),
        "sidebar": selectors.contact_context(contact=conversation.contact),
        "channel_hint": channels.composer_hint(conversation),
        "suggested": _suggested(user, conversation),
        "read_before": read_before(conversation_id=conversation.pk),
        **selectors.transfer_targets(user),
        **_call_panel(user, conversation),
    }


def _suggested(user: Any, conversation: Conversation) -> Any:
    """The suggested replies, where the agent writes replies (not on a call, not once it ended)."""
    if conversation.channel == Channel.VOICE or conversation.status not in (ConversationStatus.OPEN,
                                                                             ConversationStatus.PENDING):
        return None
    from conversations.suggestions.serving import suggestions_for  # scikit-learn: only where it runs

    return suggestions_for(conversation=conversation, agent=user)


def read_before(*, conversation_id: int) -> dict[str, Any]:
    """What the contact got from self-service before asking (conversations.deflection): the
    articles they opened, once each (marked when one answered their question), any other
    self-service answers, and what they had typed."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    queries: list[str] = []
    for answer in deflection.answers_before(conversation_id=conversation_id):
        article = answer.kind in deflection.ARTICLE_KINDS
        key = ("article" if article else answer.kind, answer.ref)
        item = items.setdefault(key, {"article": article, "kind": answer.kind, "title": answer.title or answer.ref,
                                      "url": answer.url, "language": answer.language, "answered": False})
        item["answered"] |= answer.kind == deflection.ARTICLE_ANSWERED
        if answer.query and answer.query not in queries:
            queries.append(answer.query)
    return {"items": list(items.values()), "queries": queries}


def _call_panel(user: Any, conversation: Conversation) -> dict[str, Any]:
    from conversations.call_views import call_panel_context  # the call views build on this module

    return call_panel_context(user=user, conversation=conversation)


# --- pages and partials -------------------------------------------------------------------------------


@require_GET
@desk_view
def workspace(request: HttpRequest, conversation_id: int | None = None) -> HttpResponse:
    """The shell; with a conversation id (a reload, a shared link) it opens that one."""
    context = _shell_context(request)
    if conversation_id is not None:
        conversation = access.access_conversation(user=request.user, conversation_id=conversation_id)
        context.update(_conversation_context(request, conversation), open_conversation=True)
    return render(request, "desk/workspace.html", context)


@require_POST
@desk_view
def desk_language_set(request: HttpRequest) -> HttpResponse:
    """The language of the desk's pages in this browser (supportdesk.middleware reads the
    cookie): a choice, never a guess from Accept-Language, so English stays the default."""
    language = request.POST.get("language", "")
    if language not in settings.DESK_LANGUAGES:
        raise DomainError(gettext("Choose one of the desk's languages: %(languages)s.")
                          % {"languages": ", ".join(settings.DESK_LANGUAGES)}, code="language_invalid")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("desk:workspace")
    response = redirect(target)
    response.set_cookie(settings.DESK_LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="Lax",
                        httponly=True, secure=request.is_secure())
    return response


@require_POST
@desk_view
def presence(request: HttpRequest) -> HttpResponse:
    profile = routing.presence_set(user=request.user, presence=request.POST.get("presence", ""))
    return _refreshing(render(request, "desk/_presence.html",
                              {"profile": profile, "presences": Presence.choices}))


@require_GET
@desk_view
def offers(request: HttpRequest) -> HttpResponse:
    return render(request, "desk/_offers.html", {"offers": selectors.agent_offers(user=request.user)})


@require_POST
@desk_view
def offer_accept(request: HttpRequest, item_id: int) -> HttpResponse:
    conversation = services.offer_accept(item_id=item_id, user=request.user)
    response = render(request, "desk/_conversation.html", _conversation_context(request, conversation))
    response["HX-Push-Url"] = reverse("desk:conversation_page", args=[conversation.pk])
    return _refreshing(response)


@require_POST
@desk_view
def offer_decline(request: HttpRequest, item_id: int) -> HttpResponse:
    waiting.offer_decline(item_id=item_id, user=request.user, reason=request.POST.get("reason", ""))
    return _refreshing(render(request, "desk/_offers.html", {"offers": selectors.agent_offers(user=request.user)}))


@require_GET
@desk_view
def conversation_list(request: HttpRequest) -> HttpResponse:
    return render(request, "desk/_conversation_list.html",
                  {"conversations": selectors.agent_conversations(user=request.user)})


@require_GET
@desk_view
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.access_conversation(user=request.user, conversation_id=conversation_id)
    return render(request, "desk/_conversation.html", _conversation_context(request, conversation))


@require_GET
@desk_view
def contact_sidebar(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = access.access_conversation(user=request.user, conversation_id=conversation_id)
    sidebar = selectors.contact_context(contact=conversation.contact)
    return render(request, "desk/_contact.html", {"sidebar": sidebar, "conversation": conversation})


@require_POST
@desk_view
def message_send(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """A reply to the contact, or (the note toggle on) an internal note. The composer sends a
    client id per message, so a retry after a timeout answers with the message stored first."""
    fields = {"conversation_id": conversation_id, "user": request.user, "body": request.POST.get("body", ""),
              "client_id": request.POST.get("client_id", "")}
    if request.POST.get("note"):
        message = services.note_add(**fields)
    else:  # with the macros and articles the agent put in, for the suggested replies to learn
        message = services.agent_reply(**fields, inserted=request.POST.get("inserted", ""))
    return render(request, "desk/_message.html", {"message": message}, status=200 if message.replayed else 201)


@require_GET
@desk_view
def message_attachment(request: HttpRequest, conversation_id: int, sequence: int, index: int) -> HttpResponse:
    """A file that came with a message (an email's attachment), for whoever may see the
    conversation: always a download, never shown or run inline in the desk's origin."""
    conversation = access.access_conversation(user=request.user, conversation_id=conversation_id)
    message = Message.objects.filter(conversation=conversation, sequence=sequence).select_related("conversation") \
        .first()
    attachment = channels.attachment_read(message, index) if message is not None else None
    if attachment is None:
        raise NotFound(gettext("That attachment does not exist."))
    response = HttpResponse(attachment.content, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=attachment.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def _transfer_target(value: str) -> dict[str, Any]:
    """"queue:<key>" or "agent:<user id>", as the transfer form's options are written."""
    kind, _, target = value.partition(":")
    if kind == "queue" and target:
        return {"queue_key": target}
    if kind == "agent" and id_from_text(target) is not None:
        return {"agent_user_id": id_from_text(target)}
    raise DomainError("Choose a queue or an agent to transfer to.", code="transfer_target")


@require_POST
@desk_view
def conversation_transfer(request: HttpRequest, conversation_id: int) -> HttpResponse:
    target = _transfer_target(request.POST.get("target", ""))
    services.conversation_transfer(conversation_id=conversation_id, user=request.user, **target)
    return _refreshing(render(request, "desk/_closed.html", {
        "conversation_id": conversation_id, "what": "transferred"}))


@require_POST
@desk_view
def conversation_resolve(request: HttpRequest, conversation_id: int) -> HttpResponse:
    services.conversation_resolve(conversation_id=conversation_id, user=request.user,
                                  contact_reason=request.POST.get("contact_reason", ""))
    return _refreshing(render(request, "desk/_closed.html", {
        "conversation_id": conversation_id, "what": "resolved"}))
