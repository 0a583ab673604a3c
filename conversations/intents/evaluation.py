"""How well the intent model does on the held-out phrases: per language, and at each threshold.

Used by the tests (which assert floors measured with it) and by the benchmark, which prints the
tables quoted in the README. Pure: it reads the shipped data and the model, nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from conversations.intents import DEFAULT_THRESHOLD, Intent, intent_of
from conversations.intents.data import Example, load


@dataclass(frozen=True)
class Scored:
    example: Example
    best: str
    confidence: float

    @property
    def right(self) -> bool:
        return self.best == self.example.intent


@dataclass(frozen=True)
class LanguageScore:
    language: str
    examples: int
    accuracy: float  # top answer right, whatever its confidence
    answered: float  # share at or above the threshold
    accuracy_answered: float  # right among those answered


@dataclass(frozen=True)
class ThresholdEffect:
    threshold: float
    answered: float  # share of held-out messages that get an intent
    accuracy_answered: float
    wrong_self_service: float  # share of all messages sent down a wrong self-service path
    to_agent: float  # share that go to an agent: below the threshold, or "other"


def score(examples: Iterable[Example]) -> list[Scored]:
    scored = []
    for example in examples:
        guess = intent_of(example.text, example.language, threshold=0.0)
        scored.append(Scored(example=example, best=guess.best.value, confidence=guess.confidence))
    return scored


def heldout_scores() -> list[Scored]:
    return score(load("heldout"))


def by_language(scored: Sequence[Scored], threshold: float = DEFAULT_THRESHOLD) -> list[LanguageScore]:
    groups: dict[str, list[Scored]] = defaultdict(list)
    for item in scored:
        groups[item.example.language].append(item)
    rows = []
    for language in sorted(groups):
        items = groups[language]
        answered = [item for item in items if item.confidence >= threshold]
        rows.append(LanguageScore(
            language=language, examples=len(items),
            accuracy=sum(item.right for item in items) / len(items),
            answered=len(answered) / len(items),
            accuracy_answered=sum(item.right for item in answered) / len(answered) if answered else 0.0,
        ))
    return rows


def threshold_effects(scored: Sequence[Scored], thresholds: Sequence[float]) -> list[ThresholdEffect]:
    rows = []
    for threshold in thresholds:
        answered = [item for item in scored if item.confidence >= threshold]
        self_service = [item for item in answered if item.best != Intent.OTHER]
        rows.append(ThresholdEffect(
            threshold=threshold,
            answered=len(answered) / len(scored),
            accuracy_answered=sum(item.right for item in answered) / len(answered) if answered else 0.0,
            wrong_self_service=sum(not item.right for item in self_service) / len(scored),
            to_agent=1 - len(self_service) / len(scored),
        ))
    return rows
