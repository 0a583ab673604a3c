"""The suggested replies' model as pure functions (conversations.suggestions.engine): no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from conversations.suggestions import engine
from conversations.suggestions.engine import Example, context_text

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

REFUND_ES = ("Quiero un reembolso de mi pedido", "¿Cuándo me devolvéis el dinero del reembolso?",
             "Me cobrasteis dos veces, pido el reembolso", "reembolso por favor, el pedido llegó roto")
LATE_ES = ("Mi pedido llega tarde, ¿dónde está?", "Llevo una hora esperando el pedido, va con retraso",
           "¿Por qué tarda tanto mi pedido?", "El repartidor no llega, pedido retrasado")
REFUND_EN = ("I want a refund for my order", "When do I get my money back, refund please",
             "You charged me twice, I need a refund", "refund please, the order arrived broken")
LATE_EN = ("My order is late, where is it?", "I have been waiting an hour, the order is delayed",
           "Why is my order taking so long?", "The courier does not arrive, late order")


def history(texts_labels: list[tuple[tuple[str, ...], str]], *, language: str, repeat: int = 1,
            at: datetime = NOW - timedelta(days=30)) -> list[Example]:
    return [Example(text=text, language=language, labels=(label,), at=at)
            for _ in range(repeat) for texts, label in texts_labels for text in texts]


def top(model: dict, text: str, language: str, count: int = 3) -> list[str]:
    return [label for label, _score in engine.ranked(model, text=text, language=language)[:count]]


def test_the_macro_that_always_follows_refund_questions_comes_first_for_a_new_one():
    model = engine.model_train(history([(REFUND_ES, "macro:reembolso"), (LATE_ES, "macro:retraso")],
                                       language="es", repeat=3))

    assert top(model, "Hola, necesito el reembolso de mi último pedido", "es")[0] == "macro:reembolso"
    assert top(model, "¿Dónde está mi pedido? Va muy tarde", "es")[0] == "macro:retraso"


def test_a_language_with_enough_history_ranks_with_its_own_model_and_another_falls_back_to_all():
    # Spanish agents answer refunds with their own macro; English ones with "refund".
    spanish = history([(REFUND_ES, "macro:reembolso"), (LATE_ES, "macro:retraso")], language="es", repeat=3)
    english = history([(REFUND_EN, "macro:refund"), (LATE_EN, "macro:late")], language="en", repeat=3)
    model = engine.model_train(spanish + english)
    assert set(model["languages"]) == {"es", "en"}  # 24 replies each, over MIN_LANGUAGE_EXAMPLES

    assert top(model, "Quiero un reembolso", "es")[0] == "macro:reembolso"
    assert top(model, "Quiero un reembolso", "es-ES")[0] == "macro:reembolso"  # the primary language
    assert top(model, "I want a refund", "en")[0] == "macro:refund"
    # French has no history: the all-language model ranks, and still knows what a refund asks for.
    assert top(model, "I want my refund now", "fr")[0] in {"macro:refund", "macro:reembolso"}
    # A language's own ranking comes first, and the others' labels fill in after it.
    assert set(top(model, "Quiero un reembolso", "es", count=4)) == {
        "macro:reembolso", "macro:retraso", "macro:refund", "macro:late"}


def test_a_language_with_too_few_replies_gets_no_model_of_its_own():
    few = history([(REFUND_ES, "macro:reembolso")], language="es")  # 4 replies
    model = engine.model_train(few + history([(LATE_EN, "macro:late")], language="en", repeat=5))

    assert "es" not in model["languages"]
    assert top(model, "Quiero un reembolso", "es")[0] == "macro:reembolso"  # from the all-language model


def test_cold_start_ranks_by_popularity_and_no_history_suggests_nothing():
    model = engine.model_train(
        history([(REFUND_ES, "macro:reembolso")], language="es", repeat=3)
        + history([(LATE_ES[:1], "macro:retraso")], language="es"))

    # Nothing written yet: the macro used most often first.
    assert top(model, "", "es") == ["macro:reembolso", "macro:retraso"]
    # Words the model never saw say nothing: popularity decides.
    assert top(model, "xyzzy", "ko")[0] == "macro:reembolso"
    assert engine.ranked(engine.model_train([]), text="reembolso", language="es") == []
    assert engine.ranked({}, text="reembolso", language="es") == []
    assert engine.ranked({"format": engine.FORMAT + 1}, text="x", language="es") == []  # another layout


def test_the_model_is_plain_json():
    model = engine.model_train(history([(REFUND_ES, "macro:reembolso"), (LATE_ES, "article:donde-esta")],
                                       language="es", repeat=3))

    again = json.loads(json.dumps(model))
    assert top(again, "reembolso", "es") == top(model, "reembolso", "es")


def test_the_hit_rate_on_a_hand_built_held_out_week_is_the_known_answer():
    cutoff = NOW - timedelta(days=7)
    earlier = history([(REFUND_ES, "macro:reembolso"), (LATE_ES, "macro:retraso")], language="es", repeat=2,
                      at=cutoff - timedelta(days=3))
    # Never used before the cutoff: a model trained on the earlier days cannot suggest these.
    unknown = [Example(text=f"pregunta rara {n}", language="es", labels=(f"macro:nuevo{n}",),
                       at=cutoff - timedelta(days=1)) for n in range(4)]
    week = [cutoff + timedelta(days=day) for day in range(1, 5)]
    held_out = [
        Example(text="Quiero un reembolso", language="es", labels=("macro:reembolso",), at=week[0]),
        Example(text="Mi pedido va tarde", language="es", labels=("macro:retraso",), at=week[1]),
        # Two labels, one of them suggested: a hit.
        Example(text="reembolso y retraso", language="en", labels=("macro:zzz", "macro:reembolso"), at=week[2]),
        # A macro first used this week: a miss for the measured model.
        Example(text="algo nuevo", language="en", labels=("macro:estreno",), at=week[3]),
    ]

    served, evaluation, learnt_from = engine.train_and_measure(earlier + unknown + held_out, held_out_from=cutoff)

    assert (evaluation.held_out, evaluation.hits, evaluation.hit_rate) == (4, 3, 0.75)
    assert evaluation.by_language == {"es": {"held_out": 2, "hits": 2}, "en": {"held_out": 2, "hits": 1}}
    assert learnt_from == len(earlier) + len(unknown) + len(held_out)
    # The model that serves learnt from the held-out week too: this week's new macro is known.
    assert "macro:estreno" in served[engine.ALL_LANGUAGES]["labels"]


def test_nothing_held_out_measures_nothing():
    _served, evaluation, _count = engine.train_and_measure(
        history([(REFUND_ES, "macro:reembolso")], language="es"), held_out_from=NOW)

    assert (evaluation.held_out, evaluation.hit_rate) == (0, None)


def test_the_context_is_what_the_customer_wrote_since_the_last_reply():
    turns = [("in", "Hola"), ("out", "¿En qué te ayudo?"), ("in", "Mi pedido"), ("in", "llega tarde")]
    assert context_text(turns) == "Mi pedido llega tarde"
    # The agent writes again without a new message: the customer's last one.
    assert context_text([*turns, ("out", "Lo miro")]) == "llega tarde"
    assert context_text([("in", f"m{n}") for n in range(6)]) == "m3 m4 m5"  # the last three
    assert context_text([]) == ""
    assert len(context_text([("in", "x" * 1000)])) == engine.CONTEXT_CHARS
