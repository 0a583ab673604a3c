"""The suggested replies on the desk: the open conversation's three suggestions (a partial the
workspace reloads when the customer writes), and the supervisors' page with how well the model
does. Adapters: conversations.access decides who may see what, conversations.suggestions works."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations import access
from conversations.workspace import desk_view


@require_GET
@desk_view
def suggestions(request: HttpRequest, conversation_id: int) -> HttpResponse:
    from conversations.suggestions.serving import suggestions_for  # scikit-learn: only where it runs

    conversation = access.access_conversation(user=request.user, conversation_id=conversation_id)
    return render(request, "desk/_suggestions.html", {
        "conversation": conversation, "suggested": suggestions_for(conversation=conversation, agent=request.user)})


@require_GET
@desk_view
def supervise_suggestions(request: HttpRequest) -> HttpResponse:
    """The newest models: when each was trained, on how many replies, and its top-3 hit rate on
    the held-out week, overall and per language."""
    from conversations.suggestions.training import suggestion_models_recent

    access.check_supervisor(request.user)
    models = suggestion_models_recent(limit=settings.SUGGESTIONS_MODELS_KEPT)
    latest = models[0] if models else None
    languages = sorted(
        ({"language": language, "held_out": figures["held_out"], "hits": figures["hits"],
          "hit_rate": figures["hits"] / figures["held_out"] if figures["held_out"] else None}
         for language, figures in latest.by_language.items()),
        key=lambda row: (-row["held_out"], row["language"])) if latest else []
    return render(request, "desk/supervise_suggestions.html", {
        "latest": latest, "models": models, "languages": languages,
        "held_out_days": settings.SUGGESTIONS_HELD_OUT_DAYS, "history_days": settings.SUGGESTIONS_HISTORY_DAYS})
