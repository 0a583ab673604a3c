"""What a customer wants, from their first message: `intent_of(text, language)`.

A pure module (no models, no database): conversations' services call it when a conversation's
first customer message arrives, and anything above may call it too. One of `Intent`'s values
comes back when the model is confident enough; below `DEFAULT_THRESHOLD` the answer is "no
intent" (`intent` None): the customer goes to an agent rather than down a wrong self-service
path. The threshold was chosen on the held-out phrases (README, "Intent recognition").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from conversations.intents.data import INTENTS


class Intent(StrEnum):
    ORDER_STATUS = "order_status"  # where is my order
    LATE = "late"
    CANCEL = "cancel"
    REFUND = "refund"
    MISSING_ITEM = "missing_item"
    ACCOUNT = "account"
    OTHER = "other"  # understood, and not one of the above: an agent's


assert tuple(Intent) == INTENTS, "Intent and the data's headings list the same intents"

# Chosen on the held-out set (see README): above it the model is right far more often than not,
# and gibberish and most off-topic messages fall under it.
DEFAULT_THRESHOLD = 0.5

# A first message's opening says what it is about; this caps the cost of a pasted wall of text.
MAX_CHARS = 300

# Fewer letters than this ("ok", "?", "12345", an emoji) say nothing about an intent.
MIN_LETTERS = 3


@dataclass(frozen=True)
class IntentGuess:
    """`intent` is None below the threshold; `best` is the model's top answer all the same."""

    intent: Intent | None
    confidence: float
    best: Intent
    language: str

    @property
    def to_agent(self) -> bool:
        """No self-service path fits: unsure, or understood as something only an agent handles."""
        return self.intent is None or self.intent == Intent.OTHER


def intent_of(text: str, language: str, *, threshold: float = DEFAULT_THRESHOLD) -> IntentGuess:
    """Recognise what `text`, a customer's message in `language` (an ISO 639-1 code of the desk's
    languages; another still works, as the model is shared), asks for.

    Never raises on a str; a text with too few letters gets no intent and confidence 0.
    """
    if not isinstance(text, str):
        raise TypeError(f"intent_of takes the message's text as a str, not {type(text).__name__}")
    text = text[:MAX_CHARS]
    if sum(char.isalpha() for char in text) < MIN_LETTERS:
        return IntentGuess(intent=None, confidence=0.0, best=Intent.OTHER, language=language)
    from conversations.intents.model import normalise, trained  # scikit-learn: only where it runs

    scores = trained().probabilities(normalise(text))
    best = max(scores, key=lambda intent: (scores[intent], intent))
    confidence = scores[best]
    return IntentGuess(intent=Intent(best) if confidence >= threshold else None, confidence=confidence,
                       best=Intent(best), language=language)
