"""intent_of recognises what a customer's first message asks for, in the desk's 20 languages, and
sends the customer to an agent when it is unsure. Pure: no database."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from conversations.intents import DEFAULT_THRESHOLD, Intent, evaluation, intent_of
from conversations.intents import data as intent_data
from conversations.intents.model import Compiled, build, normalise, trained, trained_pipeline
from conversations.language import SUPPORTED_LANGUAGES

# Top-answer accuracy on each language's held-out phrases (70 each: 10 per intent), as measured
# when the data was written (README, "Intent recognition"), less a margin of 0.05 so that adding
# phrases can move a language a little without failing the build; a real regression cannot hide.
MEASURED_ACCURACY = {
    "ar": 0.843, "bg": 0.929, "ca": 0.900, "de": 0.886, "en": 0.843, "es": 0.914, "fr": 0.857,
    "hr": 0.871, "it": 0.843, "ka": 0.929, "kk": 0.857, "ko": 0.829, "ky": 0.914, "pl": 0.914,
    "pt": 0.914, "ro": 0.943, "ru": 0.943, "sr": 0.886, "tr": 0.857, "uk": 0.914,
}  # fmt: skip
MARGIN = 0.05


@pytest.fixture(scope="module")
def heldout() -> list[evaluation.Scored]:
    return evaluation.heldout_scores()


# --- the data -----------------------------------------------------------------------------------


def test_every_detected_language_has_training_and_heldout_phrases_for_every_intent() -> None:
    for split, least in (("train", 30), ("heldout", 10)):
        assert set(intent_data.languages(split)) == set(SUPPORTED_LANGUAGES), split
        counts: dict[tuple[str, str], int] = {}
        for example in intent_data.load(split):
            counts[example.language, example.intent] = counts.get((example.language, example.intent), 0) + 1
        short = {key: n for key, n in counts.items() if n < least}
        assert len(counts) == len(SUPPORTED_LANGUAGES) * len(Intent), split
        assert not short, f"{split}: fewer than {least} phrases for {short}"


def test_heldout_phrases_are_not_copies_of_training_phrases() -> None:
    training = {normalise(example.text) for example in intent_data.load("train")}
    copies = [example.text for example in intent_data.load("heldout") if normalise(example.text) in training]
    assert copies == []


def test_a_data_file_that_does_not_parse_names_the_line() -> None:
    with pytest.raises(intent_data.DataError, match="x.txt:2: unknown intent 'shipping'"):
        intent_data.parse("# note\n[shipping]\nwhere\n", language="en", source="x.txt")
    with pytest.raises(intent_data.DataError, match="x.txt:1: a phrase before any"):
        intent_data.parse("where is my order\n", language="en", source="x.txt")


# --- accuracy on the held-out set ---------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(MEASURED_ACCURACY))
def test_heldout_accuracy_per_language_stays_above_its_measured_floor(
        heldout: list[evaluation.Scored], language: str) -> None:
    [row] = [row for row in evaluation.by_language(heldout) if row.language == language]
    assert row.examples == 70
    assert row.accuracy >= MEASURED_ACCURACY[language] - MARGIN, row


def test_the_threshold_trades_answered_messages_for_fewer_wrong_self_service_paths(
        heldout: list[evaluation.Scored]) -> None:
    none, default, strict = evaluation.threshold_effects(heldout, [0.0, DEFAULT_THRESHOLD, 0.7])
    assert none.answered == 1.0
    assert none.answered > default.answered > strict.answered
    assert none.wrong_self_service > default.wrong_self_service > strict.wrong_self_service
    # Measured: 0.956 right among those answered and 2.6% sent down a wrong path at 0.5.
    assert default.accuracy_answered >= 0.93
    assert default.wrong_self_service <= 0.04


def test_messages_written_for_language_detection_are_recognised_too() -> None:
    """tests/conversations/test_language.py holds 60 messages written by others, for another purpose:
    in each language "my order is late", "I was charged twice" and "I can't log in". 59 of them
    are recognised (measured); the odd Ukrainian one also asks when the courier will come."""
    path = Path(__file__).with_name("test_language.py")
    spec = importlib.util.spec_from_file_location("language_messages", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = [Intent.LATE, Intent.REFUND, Intent.ACCOUNT]
    right = sum(intent_of(text, language).best == expected[index % 3]
                for index, (language, text) in enumerate(module.MESSAGES))
    assert len(module.MESSAGES) == 60
    assert right >= 56


# --- what callers get ---------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "text", "intent"), [
    ("es", "¿dónde está mi pedido?", Intent.ORDER_STATUS),
    ("es", "donde esta mi pedido", Intent.ORDER_STATUS),
    ("en", "I want to cancel my order", Intent.CANCEL),
    ("tr", "siparisim gecikti", Intent.LATE),
    ("ko", "환불해 주세요", Intent.REFUND),
    ("ka", "პაროლი დამავიწყდა", Intent.ACCOUNT),
    ("ar", "ينقص منتج في طلبي", Intent.MISSING_ITEM),
])
def test_a_plain_request_gets_its_intent_with_confidence(language: str, text: str, intent: Intent) -> None:
    guess = intent_of(text, language)
    assert guess.intent == intent and guess.best == intent
    assert DEFAULT_THRESHOLD <= guess.confidence <= 1.0
    assert not guess.to_agent and guess.language == language


@pytest.mark.parametrize("text", [
    "asdkjh qwe zxcv", "bla bla bla bla", "lorem ipsum dolor sit amet", "ㅋㅋㅋㅋㅋ",
    "the weather is nice today", "my cat likes fish", "what a great football match",
    "¿cuál es la capital de Francia?", "я люблю читать книги",
])
def test_gibberish_and_off_topic_go_to_an_agent(text: str) -> None:
    assert intent_of(text, "en").to_agent


@pytest.mark.parametrize("text", ["", "ok", "?", "12345", "🙂🙂🙂", "  \n "])
def test_too_few_letters_is_no_intent_with_no_confidence(text: str) -> None:
    guess = intent_of(text, "en")
    assert (guess.intent, guess.confidence, guess.to_agent) == (None, 0.0, True)


def test_a_threshold_of_the_callers_own_applies() -> None:
    text = "the driver should have been here ages ago"
    confidence = intent_of(text, "en").confidence
    assert intent_of(text, "en", threshold=confidence).intent is not None
    assert intent_of(text, "en", threshold=min(1.0, confidence + 0.01)).intent is None


def test_a_long_message_is_read_from_its_opening() -> None:
    guess = intent_of("where is my order " + "x" * 50_000, "en")
    assert guess.intent == Intent.ORDER_STATUS


def test_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="str, not bytes"):
        intent_of(b"where is my order", "en")  # type: ignore[arg-type]


def test_accents_and_case_do_not_change_the_answer() -> None:
    assert intent_of("DÓNDE ESTÁ MI PEDIDO", "es") == intent_of("donde esta mi pedido", "es")
    assert normalise("Sİparişim  NEREDE") == "siparisim nerede"
    assert normalise("주문 어디") == "주문 어디"  # Hangul syllables kept


# --- determinism and the fast path --------------------------------------------------------------


def test_training_again_on_the_same_data_gives_the_same_model() -> None:
    examples = intent_data.load("train")
    texts, intents = [e.text for e in examples], [e.intent for e in examples]
    first, second = Compiled(build(texts, intents)), Compiled(build(texts, intents))
    for example in intent_data.load("heldout")[::7]:
        text = normalise(example.text)
        assert first.probabilities(text) == second.probabilities(text) == trained().probabilities(text)


def test_the_compiled_model_gives_scikit_learns_probabilities() -> None:
    pipeline, compiled = trained_pipeline(), trained()
    for example in intent_data.load("heldout")[::5]:
        text = normalise(example.text)
        expected = dict(zip(pipeline.classes_, pipeline.predict_proba([text])[0], strict=True))
        ours = compiled.probabilities(text)
        assert set(ours) == set(expected)
        assert all(abs(ours[intent] - expected[intent]) < 1e-9 for intent in ours), example.text


def test_a_process_trains_the_model_once_when_its_start_and_a_first_customer_ask_at_once() -> None:
    # The web process and the worker start a training as they start (trained_in_background); a
    # customer's message arriving meanwhile waits for that training instead of starting another.
    from conversations.intents import model

    model._trained.cache_clear()
    background = model.trained_in_background()
    first_use = model.trained()
    background.join(timeout=120)

    assert not background.is_alive()
    assert model._trained.cache_info().misses == 1
    assert model.trained() is first_use
