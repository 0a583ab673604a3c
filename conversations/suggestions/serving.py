"""The suggestions for an open conversation: the newest trained model (loaded once per process,
and again only when a newer one exists), asked about the customer's last words, its labels
turned into what this conversation can use (a macro's text in its language, an article's
published version in it)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversations.models import Conversation, Message, MessageDirection, SuggestionModel
from conversations.selectors import macro_render, macros_in_language
from conversations.suggestions import engine
from conversations.suggestions.articles import articles_resolve
from conversations.suggestions.history import LOOK_BACK
from conversations.suggestions.recording import article_label, macro_label

log = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "en"  # a conversation whose language is not known yet, as the help-insert box


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "macro" or "article"
    key: str  # the macro's shortcut, the article's key
    title: str  # the macro's title in the conversation's language, the article's title in it
    text: str  # what goes into the composer: the macro's text filled in, the article's link

    @property
    def label(self) -> str:
        return macro_label(self.key) if self.kind == "macro" else article_label(self.key)


@dataclass(frozen=True)
class LoadedModel:
    id: int
    trained_at: datetime
    parameters: dict
    examples: int
    held_out: int
    hit_rate: float | None


_loaded: LoadedModel | None = None
_loading = threading.Lock()


def model_current() -> LoadedModel | None:
    """The newest model, read from the database only when it is newer than the one this process
    holds (one indexed query for its id otherwise); None before the first training."""
    global _loaded
    newest = SuggestionModel.objects.order_by("-id").values_list("id", "trained_at").first()
    if newest is None:
        return None
    held = _loaded
    # With its time: an id given again (a database restored or emptied) is not the model held.
    if held is not None and (held.id, held.trained_at) == newest:
        return held
    with _loading:
        if _loaded is None or (_loaded.id, _loaded.trained_at) != newest:
            row = SuggestionModel.objects.filter(pk=newest[0]).first()
            if row is None:  # pruned between the two queries: the next request reads the newer one
                return _loaded
            _loaded = LoadedModel(id=row.pk, trained_at=row.trained_at, parameters=row.parameters,
                                  examples=row.examples, held_out=row.held_out, hit_rate=row.hit_rate)
        return _loaded


def conversation_context(conversation: Conversation) -> str:
    """What the customer wrote that the next reply answers (engine.context_text)."""
    turns = list(Message.objects.filter(conversation_id=conversation.pk,
                                        direction__in=[MessageDirection.INBOUND, MessageDirection.OUTBOUND])
                 .order_by("-sequence").values_list("direction", "body")[:LOOK_BACK])
    return engine.context_text(turns[::-1])


@dataclass(frozen=True)
class Suggested:
    language: str
    items: list[Suggestion]
    model: LoadedModel | None  # the model that ranked them; None before the first training


def suggestions_for(*, conversation: Conversation, agent: Any, limit: int = engine.TOP) -> Suggested:
    """The `limit` macros or articles most likely to be used next in this conversation, most
    likely first, each usable in its language; none before a model is trained."""
    language = conversation.language or DEFAULT_LANGUAGE
    model = model_current()
    return Suggested(language=language, model=model,
                     items=_ranked_usable(model, conversation=conversation, agent=agent, language=language,
                                          limit=limit) if model else [])


def _ranked_usable(model: LoadedModel, *, conversation: Conversation, agent: Any, language: str,
                   limit: int) -> list[Suggestion]:
    try:
        ranking = [label for label, _score in
                   engine.ranked(model.parameters, text=conversation_context(conversation), language=language)]
    except Exception:  # a model this code cannot read: the workspace goes on without suggestions
        log.exception("Suggestions model %s could not rank conversation %s", model.id, conversation.pk)
        return []
    shortcuts = [label.split(":", 1)[1] for label in ranking if label.startswith("macro:")]
    keys = [label.split(":", 1)[1] for label in ranking if label.startswith("article:")]
    macros = macros_in_language(language=language, shortcuts=shortcuts) if shortcuts else {}
    articles = articles_resolve(keys=keys, language=language) if keys else {}
    found: list[Suggestion] = []
    for label in ranking:
        kind, key = label.split(":", 1)
        if kind == "macro" and key in macros:
            macro = macros[key]
            found.append(Suggestion(kind=kind, key=key, title=macro.title,
                                    text=macro_render(macro=macro, conversation=conversation, agent=agent)))
        elif kind == "article" and key in articles:
            found.append(Suggestion(kind=kind, key=key, title=articles[key].title, text=articles[key].url))
        if len(found) == limit:
            break
    return found
