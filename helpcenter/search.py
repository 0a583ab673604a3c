"""Article search in the reader's language, best first.

Two statements: the words typed (unaccented, and whether each begins a word of the articles),
then the search. Two ways to match, each reading its own GIN index (migration 0001), their rows
united (a UNION: measured faster than one OR-ed bitmap, p95 24.8 to 20.6 ms on the benchmark's
searches):

- full-text search on the whole text (`search_vector`, title weighted above body) in the
  language's own configuration (stems: "pedidos" finds "pedido"), or "simple" where PostgreSQL
  has none (Georgian, Korean, Kazakh ...); every word typed is a prefix (`:*`), so a word cut
  short or inflected by a suffix ("მიწოდებ", "배송이") still matches; a misspelt word (one
  that begins no word of the language's articles, `SearchWord`) is searched for as the first of
  its spellings one edit away that is such a word, so a typo is forgiven in the body too
  ("refnud" finds an article whose body says "refund"). The candidates are made in Python
  and looked up in the words' unique index (about 500 probes for a long word: a millisecond);
  a trigram nearest-neighbour search of the words was measured at 100-500 ms over the
  benchmark's 1.9 million;
- trigram word similarity (`<%`, pg_trgm's `word_similarity_threshold`, 0.6 by default)
  against the short, lower-cased and unaccented title and summary (`search_text`): typos
  ("reembolzos") in what an article is about. Not against the whole body: on long texts every
  common trigram matches most rows, and the similarity is computed row by row.

Both sides are unaccented by the same immutable `sd_unaccent` the stored columns use.
The rank: full-text rank (doubled: the words are there) plus, for the rows the trigrams matched,
how closely the title resembles what was typed (each computed only where its side matched: a
common word's hundreds of full-text matches are not compared by trigrams row by row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.utils.translation import gettext as _

from helpcenter.languages import is_help_language, text_search_config
from helpcenter.markdown import plain_text, summary_of
from helpcenter.models import ArticleVersion, SearchWord, VersionStatus
from supportdesk.errors import DomainError

MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 100
MAX_LIMIT = 50
# How the words typed combine: every one (a search), or any (suggestions while a visitor types).
MATCHES = {"all": " & ", "any": " | "}

# The words typed, unaccented and lower-cased by PostgreSQL (unaccent maps a few letters to
# punctuation, U+02BC to an apostrophe, that to_tsquery would read as syntax, so the words are
# cut after it), each with whether it begins a word of the language's published articles: the
# words' unique index, in the "C" collation so that a range is a prefix.
_WORDS = SearchWord._meta.db_table
_TYPED_SQL = f"""
SELECT t.w, EXISTS (SELECT FROM {_WORDS} e
                     WHERE e.language = %(language)s
                       AND e.word >= t.w COLLATE "C" AND e.word < (t.w || chr(1114111)) COLLATE "C")
  FROM regexp_matches(public.sd_unaccent(%(words)s), '([[:alnum:]]+)', 'g') WITH ORDINALITY AS m(m, n),
       LATERAL (SELECT lower(m.m[1]) AS w) t
 ORDER BY m.n
"""
# Every word typed is a prefix ('pedidos retraso' -> 'pedidos:* & retraso:*'); a misspelt one is
# also its correction ('refnud' -> '(refnud:* | refund)'): the first of its candidates (one edit
# away, made by `_edits`) that is a word of the articles. One tsquery for the statement (a CTE:
# built once, not once per row it is compared with).
_TSQUERY_CTE = f"""
fixes AS (
    SELECT DISTINCT ON (c.n) c.n, c.word
      FROM unnest(%(candidate_of)s::int[], %(candidates)s::text[]) WITH ORDINALITY AS c(n, word, rank)
      JOIN {_WORDS} s ON s.language = %(language)s AND s.word = c.word COLLATE "C"
     ORDER BY c.n, c.rank
),
terms AS (
    SELECT t.n, CASE WHEN f.word IS NULL THEN t.w || ':*' ELSE '(' || t.w || ':* | ' || f.word || ')' END AS term
      FROM unnest(%(typed)s::text[]) WITH ORDINALITY AS t(w, n)
      LEFT JOIN fixes f ON f.n = t.n
),
query AS MATERIALIZED (
    SELECT to_tsquery(%(config)s::regconfig, coalesce(string_agg(term, %(joiner)s ORDER BY n), '')) AS q
      FROM terms
)"""
_TABLE = ArticleVersion._meta.db_table
_SQL = f"""
WITH {_TSQUERY_CTE},
matched AS (
    SELECT id, bool_or(by_words) AS by_words, bool_or(NOT by_words) AS by_likeness FROM (
        SELECT id, true AS by_words FROM {_TABLE}
         WHERE language = %(language)s AND status = %(published)s AND search_vector @@ (SELECT q FROM query)
        UNION ALL
        SELECT id, false FROM {_TABLE}
         WHERE language = %(language)s AND status = %(published)s
           AND lower(public.sd_unaccent(%(q)s)) <%% search_text
    ) either GROUP BY id
)
SELECT v.id, v.title, v.slug, cat.slug, a.key, v.summary, v.body_html,
       CASE WHEN m.by_words THEN 2 * ts_rank(v.search_vector, (SELECT q FROM query), 1) ELSE 0 END
       + CASE WHEN m.by_likeness THEN word_similarity(lower(public.sd_unaccent(%(q)s)), v.search_text)
              ELSE 0 END AS score
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
    article_key: str
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


# The letters a correction may put in or change, by the script of the word's first letter (the
# words are unaccented and lower-cased: the Latin languages' letters are a to z); a word of any
# other script (Hangul's 11,172 syllables) only loses, swaps or repeats its own letters.
_ALPHABETS = (
    "abcdefghijklmnopqrstuvwxyz",
    "абвгдежзийклмнопрстуфхцчшщъыьэюяёєіїґђјљњћџәғқңөұүһ",
    "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ",
)
CORRECTED_LENGTHS = range(4, 21)  # shorter words have too many neighbours; longer are not typos


def _edits(word: str) -> list[str]:
    """The words one edit away (Damerau: a letter swapped with the next, left out, changed or
    added), the likelier first: swaps and omissions, then changes, then additions."""
    alphabet = next((letters for letters in _ALPHABETS if word[0] in letters), "")
    alphabet = "".join(sorted(set(alphabet) | set(word)))
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    swaps = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1 and b[0] != b[1]]
    omissions = [a + b[1:] for a, b in splits if b]
    changes = [a + letter + b[1:] for a, b in splits if b for letter in alphabet if letter != b[0]]
    additions = [a + letter + b for a, b in splits for letter in alphabet]
    return list(dict.fromkeys(edit for edit in swaps + omissions + changes + additions if edit != word))


def _misspelt(word: str, begins_a_word: bool) -> bool:
    """A word to correct: long enough, no digits (an order number is not misspelt), and not the
    start of a word the articles use (that is a word being typed, or the word itself)."""
    return not begins_a_word and len(word) in CORRECTED_LENGTHS and not any(ch.isdigit() for ch in word)


def article_search(*, query: str, language: str, limit: int = 10, match: str = "all") -> list[ArticleHit]:
    """The published articles in `language` best matching `query`, best first: with every
    word typed (`match="all"`), or any of them of two letters or more (`"any"`: the widget's
    suggestions, where a visitor types a whole question; the articles with more of them first)."""
    if match not in MATCHES:
        raise ValueError(f"match must be one of {', '.join(MATCHES)}")
    text, language = query_clean(query), language_check(language)
    limit = max(1, min(limit, MAX_LIMIT))
    with connection.cursor() as cursor:
        cursor.execute(_TYPED_SQL, {"words": query_words(text), "language": language})
        typed = [(word, begins) for word, begins in cursor.fetchall() if match == "all" or len(word) >= 2]
        candidate_of, candidates = [], []
        for number, (word, begins_a_word) in enumerate(typed, start=1):
            if _misspelt(word, begins_a_word):
                edits = _edits(word)
                candidate_of += [number] * len(edits)
                candidates += edits
        cursor.execute(_SQL, {
            "q": text, "typed": [word for word, _ in typed], "candidate_of": candidate_of,
            "candidates": candidates, "joiner": MATCHES[match], "config": text_search_config(language),
            "language": language, "published": VersionStatus.PUBLISHED, "limit": limit})
        rows = cursor.fetchall()
    return [ArticleHit(version_id=pk, title=title, slug=slug, category_slug=category, article_key=key,
                       language=language, snippet=summary or summary_of(plain_text(body_html)), score=float(score))
            for pk, title, slug, category, key, summary, body_html, score in rows]
