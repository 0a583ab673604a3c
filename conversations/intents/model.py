"""The intent model: TF-IDF over character n-grams (2 to 5, within words) and words (one and two)
into a one-vs-rest logistic regression trained by SGD (scikit-learn), one model for every language.

Why character n-grams: they need no tokeniser, so they work alike for Korean, Georgian, Arabic
and Cyrillic, and they forgive the typos and missing accents customers write with; the word
features add whole words and pairs ("where is", "mi pedido"). Why one model for all languages:
a message whose language was guessed wrong (or mixes two) is still recognised, and related
languages (es/pt/ca/it, ru/uk/bg, hr/sr) lend each other their words.

The model is trained from the shipped phrases on first use in a process (about a second and a
half) and kept in memory: there is no trained artifact in the repository to drift from its data,
and the same data always gives the same model (fixed seed, data in a fixed order).

scikit-learn's own `predict_proba` spends 3 to 8 ms per single message in input checks, which is
more than the whole budget (5 ms), so `Compiled` applies the fitted model's numbers itself: the
same analyzers, vocabularies, IDF weights and coefficients, and the same one-vs-rest
normalisation (a test checks it gives scikit-learn's probabilities).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline, make_union

from conversations.intents import MAX_CHARS, data

# Chosen on the held-out set (README, "Intent recognition"): less regularisation let the model
# be confidently wrong more often, more made it unsure of plain requests.
ALPHA = 3e-5
SEED = 0

logger = logging.getLogger(__name__)


def normalise(text: str) -> str:
    """Lower case without accents or diacritics, as many customers type: "Dónde está" and "donde
    esta", "sipariş" and "siparis", "ещё" and "еще" become the same characters. Hangul syllables
    are composed again afterwards, so Korean keeps its syllables."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold().replace("ı", "i")
    stripped = "".join(char for char in unicodedata.normalize("NFD", text) if not unicodedata.combining(char))
    return " ".join(unicodedata.normalize("NFC", stripped).split())


def build(texts: Sequence[str], intents: Sequence[str]) -> Pipeline:
    """A fitted scikit-learn pipeline over the given examples (texts as written: normalised here)."""
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=numpy.float64),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, dtype=numpy.float64,
                        token_pattern=r"(?u)\b\w+\b"),
    )
    classifier = SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=SEED, max_iter=50, tol=1e-4)
    pipeline = make_pipeline(features, classifier)
    pipeline.fit([normalise(text) for text in texts], list(intents))
    return pipeline


@dataclass(frozen=True)
class _Part:
    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: numpy.ndarray
    offset: int  # where this part's columns start in the classifier's coefficients


class Compiled:
    """A fitted pipeline's numbers, applied to one message at a time without scikit-learn's checks."""

    def __init__(self, pipeline: Pipeline) -> None:
        union: FeatureUnion = pipeline.steps[0][1]
        classifier: SGDClassifier = pipeline.steps[-1][1]
        self.intents: tuple[str, ...] = tuple(str(intent) for intent in classifier.classes_)
        self._weights = numpy.ascontiguousarray(classifier.coef_.T)  # one row of per-intent weights a feature
        self._intercept = classifier.intercept_.copy()
        parts, offset = [], 0
        for _name, vectorizer in union.transformer_list:
            parts.append(_Part(vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        self._parts = tuple(parts)

    def probabilities(self, normalised: str) -> dict[str, float]:
        scores = self._intercept.copy()
        for part in self._parts:
            columns: list[int] = []
            tf: list[float] = []
            for gram, count in Counter(part.analyzer(normalised)).items():
                column = part.vocabulary.get(gram)
                if column is not None:
                    columns.append(column)
                    tf.append(1.0 + math.log(count))  # sublinear_tf
            if not columns:
                continue
            values = numpy.array(tf) * part.idf[columns]
            values /= numpy.sqrt(values @ values)
            scores += values @ self._weights[numpy.array(columns) + part.offset]
        odds = 1.0 / (1.0 + numpy.exp(-scores))
        odds /= odds.sum()
        return {intent: float(odds[index]) for index, intent in enumerate(self.intents)}


@functools.cache
def trained_pipeline() -> Pipeline:
    examples = data.load("train")
    return build([example.text for example in examples], [example.intent for example in examples])


_TRAINING = threading.Lock()


@functools.cache
def _trained() -> Compiled:
    return Compiled(trained_pipeline())


def trained() -> Compiled:
    """The model, trained on the process's first call (1-2 s of CPU, more on a busy machine);
    callers meanwhile wait for that one training instead of each starting their own."""
    with _TRAINING:
        return _trained()


def trained_in_background() -> threading.Thread:
    """Train the model in a thread now, so that a serving process's first customer does not
    wait for it (the web processes and the worker call this as they start)."""

    def train() -> None:
        try:
            trained()
        except Exception:  # noqa: BLE001 - logged; the first use tries again
            logger.exception("the intent model could not be trained in the background")

    thread = threading.Thread(target=train, name="intent-model-warm", daemon=True)
    thread.start()
    return thread
