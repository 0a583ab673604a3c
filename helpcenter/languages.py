"""The help center's languages and how PostgreSQL searches each of them.

A language with a text search configuration of its own (stemming, stop words) is searched
with full-text search in that configuration; one without (Georgian, Kazakh, Korean, ...)
by trigram similarity alone. Both sides see the text without accents (`sd_unaccent`), so
"devolucion" finds "devolución". The configurations named here ship with PostgreSQL 15+
(`SELECT cfgname FROM pg_ts_config`).
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError

from conversations.language import SUPPORTED_LANGUAGES

# The desk's language codes (ISO 639-1) -> PostgreSQL's text search configuration.
TEXT_SEARCH_CONFIGS: dict[str, str] = {
    "ar": "arabic", "ca": "catalan", "de": "german", "en": "english", "es": "spanish",
    "fr": "french", "it": "italian", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "tr": "turkish",
}  # fmt: skip
# Without one: trigram matching only. "simple" keeps a tsvector column meaningful for them.
TRIGRAM_ONLY_CONFIG = "simple"

HELP_LANGUAGES: tuple[str, ...] = SUPPORTED_LANGUAGES


def text_search_config(language: str) -> str:
    """The configuration a version in `language` is indexed and searched with."""
    return TEXT_SEARCH_CONFIGS.get(language, TRIGRAM_ONLY_CONFIG)


def has_full_text(language: str) -> bool:
    return language in TEXT_SEARCH_CONFIGS


def is_help_language(language: str) -> bool:
    return language in HELP_LANGUAGES


@lru_cache(maxsize=64)
def language_name(language: str) -> str:
    """The language's own name for itself ("Español", "ქართული"), for the language links."""
    try:
        name = Locale.parse(language).get_display_name(language) or language
    except (ValueError, UnknownLocaleError):
        return language
    return name[:1].upper() + name[1:]


LANGUAGE_CHOICES = [(code, code) for code in HELP_LANGUAGES]
