"""Detect the language of a customer's message (pure: no database, no network).

Backed by py3langid, a naive Bayes classifier over byte n-grams whose model ships inside the wheel.
The classifier is restricted to the languages the desk supports, so its softmax is a posterior
over those languages only: an evenly split message (Spanish or Portuguese "pedido") gets a low
confidence and falls back to the caller's default instead of a confident guess at a language we
cannot route.

Serbian written in Latin script is a separate model class that py3langid folds into "sr", so
Latin "gde je kurir" comes out sr and Croatian "gdje je dostavljač" comes out hr.
"""

from __future__ import annotations

import functools

from py3langid.langid import MODEL_FILE, LanguageIdentifier

SUPPORTED_LANGUAGES: tuple[str, ...] = (
    "ar", "bg", "ca", "de", "en", "es", "fr", "hr", "it", "ka",
    "kk", "ko", "ky", "pl", "pt", "ro", "ru", "sr", "tr", "uk",
)  # fmt: skip

# Under 0.5 the top language is no likelier than all the others together. On sample messages
# the right answer scored 0.54 or more, while short ambiguous ones ("hvala", "obrigado",
# "pedido") scored under 0.5.
DEFAULT_THRESHOLD = 0.5

# Fewer letters than this ("ok", "да", "?", "12345", emoji) can't be told apart reliably.
MIN_LETTERS = 3

# A first message's opening says enough; this caps the cost of a pasted wall of text.
MAX_CHARS = 1000


@functools.cache
def _identifier() -> LanguageIdentifier:
    # Loaded on first use (about 0.8 s, about 75 MB resident), not at import time.
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(SUPPORTED_LANGUAGES))
    return identifier


def language_detect(text: str, *, default: str, threshold: float = DEFAULT_THRESHOLD) -> tuple[str, float]:
    """Return (ISO 639-1 code, confidence) for text, or (default, confidence) when unsure.

    Confidence is 0.0 when the text has too few letters to judge. Never raises on a str.
    """
    text = text[:MAX_CHARS]
    if sum(char.isalpha() for char in text) < MIN_LETTERS:
        return default, 0.0
    code, confidence = _identifier().classify(text)
    confidence = min(confidence, 1.0)  # float32 softmax can round a hair above 1
    if confidence < threshold:
        return default, confidence
    return code, confidence
