"""Training the suggestions' model from the desk's history, measuring it, and keeping it: the
scheduled task (conversations.tasks.suggestions_train), `manage.py suggestions_train` and the
demo's seeding step all call `suggestion_model_train`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from conversations.models import SuggestionModel
from conversations.suggestions import engine
from conversations.suggestions.history import examples_load
from supportdesk.seeding import StepProgress, step_register

Progress = Callable[[str, int, int], None]  # (what, done, total conversations); total > 0


def suggestion_model_train(*, now: datetime | None = None, on_progress: Progress | None = None) -> SuggestionModel:
    """Read the last SUGGESTIONS_HISTORY_DAYS of replies that inserted a macro or an article,
    measure the top-3 hit rate on the last SUGGESTIONS_HELD_OUT_DAYS (a model trained on the
    days before, asked about those), train on all of it, and store the new model (the newest
    serves). Always writes a row, even from an empty history: supervisors see it ran."""
    started = time.monotonic()
    now = now or timezone.now()
    history = examples_load(
        since=now - timedelta(days=settings.SUGGESTIONS_HISTORY_DAYS), until=now,
        limit=settings.SUGGESTIONS_MAX_EXAMPLES,
        on_progress=(lambda done, total: on_progress("history read", done, total)) if on_progress else None)
    parameters, evaluation, examples = engine.train_and_measure(
        history, held_out_from=now - timedelta(days=settings.SUGGESTIONS_HELD_OUT_DAYS))
    model = SuggestionModel.objects.create(
        trained_at=now, format=engine.FORMAT, parameters=parameters, examples=examples,
        held_out=evaluation.held_out, hits=evaluation.hits, hit_rate=evaluation.hit_rate,
        by_language=evaluation.by_language, seconds=round(time.monotonic() - started, 3))
    # The newest few are kept for the supervisors' page (how the figure moves); older ones go.
    kept = SuggestionModel.objects.order_by("-id").values_list("id", flat=True)[:settings.SUGGESTIONS_MODELS_KEPT]
    SuggestionModel.objects.exclude(pk__in=list(kept)).delete()
    return model


def suggestion_models_recent(*, limit: int) -> list[SuggestionModel]:
    """The newest models, newest first, without their parameters (the supervisors' page)."""
    return list(SuggestionModel.objects.order_by("-id").defer("parameters")[:limit])


def suggestions_seeding_step(*, wrote: bool, on_progress: Callable[[StepProgress], None] | None = None) -> str:
    """The demo's last step (supportdesk.seeding): train on the history it wrote, so the workspace
    suggests from the first login; a rerun that wrote nothing keeps the model there is."""
    if not wrote and SuggestionModel.objects.exists():
        return "Suggested replies: a model was there (/desk/supervise/suggestions/)."
    def progress(what: str, done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(StepProgress(what=f"suggested replies' {what}", done=done, total=total,
                                     unit="conversations"))

    model = suggestion_model_train(on_progress=progress)
    rate = f"{model.hit_rate:.0%}" if model.hit_rate is not None else "not measured"
    return (f"Suggested replies: learnt from {model.examples:,} replies; top-3 hit rate {rate} on the last "
            f"{settings.SUGGESTIONS_HELD_OUT_DAYS} days' {model.held_out:,} (/desk/supervise/suggestions/).")


def suggestions_seeding_register() -> None:
    """From the app's ready()."""
    step_register(name="suggestions", step=suggestions_seeding_step)
