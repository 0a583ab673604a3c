"""Help-center articles as suggested replies, through a registry: the help center sits above
conversations (it may import conversations, never the reverse), so it registers a source here
from its AppConfig.ready() (helpcenter.suggestions), as integrations register transports.
Without a source (the help center not installed) articles are simply never suggested, and an
article a reply says it inserted is not recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ArticleChoice:
    key: str  # the article's key, the same in every language
    title: str  # in the language asked for
    url: str  # the public address of that language's version, as the desk hands links out


class ArticleSource(Protocol):
    def articles_resolve(self, *, keys: Sequence[str], language: str) -> dict[str, ArticleChoice]:
        """Those of `keys` with a published version in `language`, by key."""

    def articles_known(self, *, keys: Sequence[str]) -> set[str]:
        """Those of `keys` that name an article."""


_sources: dict[str, ArticleSource] = {}


def article_source_register(*, name: str, source: ArticleSource) -> None:
    """Idempotent: registering a name again replaces its source."""
    _sources[name] = source


def articles_resolve(*, keys: Sequence[str], language: str) -> dict[str, ArticleChoice]:
    found: dict[str, ArticleChoice] = {}
    for source in _sources.values():
        if keys:
            found.update(source.articles_resolve(keys=[key for key in keys if key not in found],
                                                 language=language))
    return found


def articles_known(*, keys: Sequence[str]) -> set[str]:
    known: set[str] = set()
    for source in _sources.values():
        if keys:
            known |= source.articles_known(keys=keys)
    return known
