"""Article search in the reader's language, best first, in one statement.

Two ways to match, each reading its own GIN index (migration 0001), their rows united (a
UNION: measured faster than one OR-ed bitmap, p95 24.8 to 20.6 ms on the benchmark's searches):

- full-text search on the whole text (`search_vector`, title weighted above body) in the
  language's own configuration (stems: "pedidos" finds "pedido"), or "simple" where PostgreSQL
  has none (Georgian, Korean, Kazakh ...); every word typed is a prefix (`:*`), so a word cut
  short or inflected by a suffix ("მიწოდებ", "배송이") still matches;
- trigram word similarity (`<%`, pg_trgm's `word_similarity_threshold`, 0.6 by default)
  against the short, lower-cased and unaccented title and summary (`search_text`): typos
  ("reembolzos") in what an article is about. Not against the whole body: on long texts every
  common trigram matches most rows, and the similarity is computed row by row.

Both sides are unaccented by the same immutable `sd_unaccent` the stored columns use.
The rank: full-text rank (doubled: the words are there) plus how closely the title resembles
what was typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext as _

from helpcenter.languages import is_help_language, text_search_config
from helpcenter.markdown import plain_text, summary_of
from helpcenter.models import ArticleVersion, VersionStatus
from supportdesk.errors import DomainError

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 100
MAX_LIMIT = 50

# The words typed, unaccented by PostgreSQL, then cut into letters-and-digits runs, each a
# prefix: 'pedidos retraso' -> 'pedidos:* & retraso:*'. Cut after unaccenting, as unaccent maps
# a few letters to punctuation (U+02BC to an apostrophe) that to_tsquery would read as syntax.
# One tsquery for the statement (an InitPlan: parsed once, not once per row it is compared with).
_TSQUERY = """(SELECT to_tsquery(%(config)s::regconfig, coalesce(string_agg(word[1] || ':*', ' & '), ''))
    FROM regexp_matches(public.sd_unaccent(%(words)s), '([[:alnum:]]+)', 'g') AS word)"""
_TABLE = ArticleVersion._meta.db_table
_SQL = f"""
WITH matched AS (
    SELECT id FROM {_TABLE}
     WHERE language = %(language)s AND status = %(published)s AND search_vector @@ {_TSQUERY}
    UNION
    SELECT id FROM {_TABLE}
     WHERE language = %(language)s AND status = %(published)s
       AND lower(public.sd_unaccent(%(q)s)) <%% search_text
)
SELECT v.id, v.title, v.slug, cat.slug, v.summary, v.body_html,
       2 * ts_rank(v.search_vector, {_TSQUERY}, 1)
       + word_similarity(lower(public.sd_unaccent(%(q)s)), v.search_text) AS score
FROM matched m
JOIN {_TABLE} v ON v.id = m.id
JOIN helpcenter_article a ON a.id = v.article_id
JOIN helpcenter_category cat ON cat.id = a.category_id
WHERE cat.is_active
ORDER BY score DESC, v.id
LIMIT %(limit)s
"""
_WORD = re.compile(r"[^\W_]+")
_MAX_WORDS = 8  # a pasted paragraph is not ANDed word by word


def query_words(text: str) -> str:
    """The first words typed, letters and digits only (operators and quotes are not words)."""
    return " ".join(_WORD.findall(text)[:_MAX_WORDS])


@dataclass(frozen=True)
class ArticleHit:
    version_id: int
    title: str
    slug: str
    category_slug: str
    language: str
    snippet: str
    score: float

    @property
    def path(self) -> str:
        return f"/help/{self.language}/{self.category_slug}/{self.slug}/"


def query_clean(query: str) -> str:
    """The query with its spaces collapsed; a clear error when it is too short or too long."""
    text = " ".join((query or "").split())
    if "\x00" in text:  # PostgreSQL's text cannot hold it: a clear 400, not a database error
        raise DomainError(_("A search may not contain a NUL character."), code="invalid_query")
    if len(text) < MIN_QUERY_LENGTH:
        raise DomainError(_("Type at least %(count)d characters to search.") % {"count": MIN_QUERY_LENGTH},
                          code="query_too_short")
    if len(text) > MAX_QUERY_LENGTH:
        raise DomainError(_("A search is at most %(count)d characters long.") % {"count": MAX_QUERY_LENGTH},
                          code="query_too_long")
    return text


def language_check(language: str) -> str:
    if not is_help_language(language or ""):
        raise DomainError(_("Unknown language %(language)r.") % {"language": language}, code="unknown_language")
    return language


def article_search(*, query: str, language: str, limit: int = 10) -> list[ArticleHit]:
    """The published articles in `language` best matching `query`, best first."""
    text, language = query_clean(query), language_check(language)
    limit = max(1, min(limit, MAX_LIMIT))
    params = {"q": text, "words": query_words(text), "config": text_search_config(language),
              "language": language, "published": VersionStatus.PUBLISHED, "limit": limit}
    with connection.cursor() as cursor:
        cursor.execute(_SQL, params)
        rows = cursor.fetchall()
    return [ArticleHit(version_id=pk, title=title, slug=slug, category_slug=category, language=language,
                       snippet=summary or summary_of(plain_text(body_html)), score=float(score))
            for pk, title, slug, category, summary, body_html, score in rows]
