"""The suggested replies' model, as pure functions over plain data: no models, no database.

What it learns: after what a customer wrote, which macros and help-center articles the agent
answering put into the reply ("labels": `macro:<shortcut>`, `article:<key>`). Each label gets a
centroid: the mean of the TF-IDF vectors (character n-grams, as the intent model reads a message:
no tokeniser, forgiving typos and accents, alike in every script) of the customer texts it
followed, cut to its strongest terms. A new text's score for a label is its cosine with the
centroid, plus a small share of the label's popularity, which alone ranks the labels when there
is no text yet (cold start). A nearest-centroid model because it is robust with a handful of
replies per label, trains in one pass, and serialises to a small JSON document that every web
process can read from the database (no pickle).

Per language where the history has enough replies in it (`MIN_LANGUAGE_EXAMPLES`), and one over
all languages, which ranks for the languages with too few and fills in after a language's own.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

FORMAT = 1  # the parameters' layout: a model stored in another is not read
# Fewer replies than this in a language: its own ranking would be noise; the all-language one serves.
MIN_LANGUAGE_EXAMPLES = 20
# The terms each label's centroid keeps: the strongest carry the ranking; the rest only weigh the store down.
TERMS_PER_LABEL = 300
# How much popularity counts beside the text's likeness (a share in 0..1 against a cosine in 0..1).
PRIOR_WEIGHT = 0.15
# The customer's last words, in characters: what they wrote just before the agent answered matters most.
CONTEXT_CHARS = 300
CONTEXT_MESSAGES = 3
TOP = 3  # the workspace shows three; the hit rate counts a hit among them
ALL_LANGUAGES = "*"

INBOUND, OUTBOUND = "in", "out"


def language_key(language: str) -> str:
    """"es-ES" and "ES" are "es": history and suggestions meet on the primary language."""
    return (language or "").replace("_", "-").split("-")[0].strip().lower()


def context_text(turns: Sequence[tuple[str, str]]) -> str:
    """The customer's words the agent answers next, from a conversation's messages so far as
    (direction, body), oldest first: the contact's messages since the last reply (the last
    CONTEXT_MESSAGES of them), or their last message when the agent writes again without a new one.
    Cut to the last CONTEXT_CHARS characters. The same function reads history and the open
    conversation, so the model is asked what it learnt from."""
    since_reply: list[str] = []
    last_inbound = ""
    for direction, body in turns:
        if direction == INBOUND:
            since_reply.append(body)
            last_inbound = body
        elif direction == OUTBOUND:
            since_reply = []
    words = since_reply[-CONTEXT_MESSAGES:] or ([last_inbound] if last_inbound else [])
    return " ".join(" ".join(words).split())[-CONTEXT_CHARS:]


@dataclass(frozen=True)
class Example:
    """One reply of history: what the customer had written, and what the agent inserted."""

    text: str
    language: str
    labels: tuple[str, ...]
    at: datetime


# --- features -------------------------------------------------------------------------------------


@functools.cache
def _analyzer() -> Callable[[str], list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer  # only where a model trains or ranks

    return TfidfVectorizer(**_VECTORIZER).build_analyzer()


_VECTORIZER = {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True}


def _normalise(text: str) -> str:
    from conversations.intents.model import normalise  # the intent model's: accents and case folded

    return normalise(text)


def _query_vector(part: dict, text: str) -> dict[str, float]:
    """The text's TF-IDF vector in a part's terms, L2-normalised. A term the part kept no weight
    for gets the idf of a term seen nowhere: it weighs in the norm, as it would have."""
    grams = Counter(_analyzer()(_normalise(text))) if text else Counter()
    if not grams:
        return {}
    idf, unseen = part["idf"], math.log((1 + part["documents"]) / 1) + 1
    vector = {gram: (1.0 + math.log(count)) * idf.get(gram, unseen) for gram, count in grams.items()}
    norm = math.sqrt(sum(value * value for value in vector.values()))
    return {gram: value / norm for gram, value in vector.items() if gram in idf}


# --- training -----------------------------------------------------------------------------------------


def _part_train(examples: Sequence[Example]) -> dict:
    """One ranking's parameters (JSON): idf of the kept terms, and per label its count and centroid."""
    import numpy
    from sklearn.feature_extraction.text import TfidfVectorizer

    counts = Counter(label for example in examples for label in example.labels)
    part: dict = {"documents": len(examples), "idf": {},
                  "labels": {label: {"count": count, "centroid": {}} for label, count in counts.items()}}
    texts = [_normalise(example.text) for example in examples]
    if not any(texts):
        return part
    vectorizer = TfidfVectorizer(**_VECTORIZER, dtype=numpy.float64)
    try:
        matrix = vectorizer.fit_transform(texts)  # rows L2-normalised
    except ValueError:  # no n-gram at all (every text empty or a single character)
        return part
    terms = vectorizer.get_feature_names_out()
    rows_by_label: dict[str, list[int]] = defaultdict(list)
    for row, example in enumerate(examples):
        if texts[row]:
            for label in example.labels:
                rows_by_label[label].append(row)
    kept: set[int] = set()
    for label, rows in rows_by_label.items():
        mean = numpy.asarray(matrix[rows].mean(axis=0)).ravel()
        strongest = numpy.argsort(-mean, kind="stable")[:TERMS_PER_LABEL]
        strongest = strongest[mean[strongest] > 0]
        norm = float(numpy.sqrt((mean[strongest] ** 2).sum())) or 1.0
        part["labels"][label]["centroid"] = {str(terms[i]): round(float(mean[i]) / norm, 6) for i in strongest}
        kept.update(int(i) for i in strongest)
    part["idf"] = {str(terms[i]): round(float(vectorizer.idf_[i]), 6) for i in sorted(kept)}
    return part


def model_train(examples: Iterable[Example]) -> dict:
    """The model's parameters (JSON-serialisable) from history; an empty history gives an empty
    model, which suggests nothing."""
    examples = [example for example in examples if example.labels]
    by_language: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_language[language_key(example.language)].append(example)
    return {
        "format": FORMAT,
        ALL_LANGUAGES: _part_train(examples),
        "languages": {language: _part_train(own) for language, own in sorted(by_language.items())
                      if language and len(own) >= MIN_LANGUAGE_EXAMPLES},
    }


# --- ranking ------------------------------------------------------------------------------------------


def _part_rank(part: dict, text: str) -> list[tuple[str, float]]:
    labels = part["labels"]
    total = sum(entry["count"] for entry in labels.values()) or 1
    query = _query_vector(part, text)
    scored = []
    for label, entry in labels.items():
        centroid = entry["centroid"]
        likeness = sum(weight * centroid.get(gram, 0.0) for gram, weight in query.items())
        scored.append((label, likeness + PRIOR_WEIGHT * entry["count"] / total))
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored


def ranked(model: dict, *, text: str, language: str) -> list[tuple[str, float]]:
    """Every label the model knows, most likely next first: the language's own ranking where it
    has one, then the all-language ranking's other labels."""
    if not model or model.get("format") != FORMAT:
        return []
    own = model["languages"].get(language_key(language))
    first = _part_rank(own, text) if own else []
    seen = {label for label, _score in first}
    rest = [(label, score) for label, score in _part_rank(model[ALL_LANGUAGES], text) if label not in seen]
    return first + rest


# --- measuring ----------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Top-TOP hit rate: a held-out reply is a hit when a label it used is among the first TOP."""

    held_out: int = 0
    hits: int = 0
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.held_out if self.held_out else None


def evaluate(model: dict, held_out: Iterable[Example], *, top: int = TOP) -> Evaluation:
    evaluation = Evaluation()
    for example in held_out:
        if not example.labels:
            continue
        suggested = {label for label, _score in ranked(model, text=example.text, language=example.language)[:top]}
        hit = bool(suggested & set(example.labels))
        language = evaluation.by_language.setdefault(language_key(example.language) or "?",
                                                     {"held_out": 0, "hits": 0})
        language["held_out"] += 1
        language["hits"] += hit
        evaluation.held_out += 1
        evaluation.hits += hit
    return evaluation


def train_and_measure(examples: Sequence[Example], *, held_out_from: datetime) -> tuple[dict, Evaluation, int]:
    """Measure a model trained on the history before `held_out_from` on the replies after it,
    then train the model to serve on all of it (so a macro first used this week is suggested
    too): the served model's parameters, the measure, and how many replies it learnt from."""
    examples = [example for example in examples if example.labels]
    earlier = [example for example in examples if example.at < held_out_from]
    later = [example for example in examples if example.at >= held_out_from]
    evaluation = evaluate(model_train(earlier), later)
    return model_train(examples), evaluation, len(examples)
