"""`manage.py suggestions_train`: train the suggested replies' model now, as beat does on its
schedule, printing its progress and the measured top-3 hit rate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Train the suggested replies' model from the desk's history (replies that inserted a macro or "
            "a help-center article), measure its top-3 hit rate on the last week held out, and store it.")

    def handle(self, *args: Any, **options: Any) -> None:
        from conversations.suggestions.training import suggestion_model_train  # scikit-learn: only here

        quiet = options["verbosity"] == 0
        model = suggestion_model_train(on_progress=None if quiet else self._progress)
        if quiet:
            return
        rate = (f"{model.hit_rate:.1%}" if model.hit_rate is not None
                else "not measured (no reply in the held-out days)")
        self.stdout.write(self.style.SUCCESS(
            f"Model {model.pk}: learnt from {model.examples:,} replies in {model.seconds:.1f}s; "
            f"top-3 hit rate {rate} on {model.held_out:,} held-out replies."))
        for language, figures in sorted(model.by_language.items()):
            share = figures["hits"] / figures["held_out"] if figures["held_out"] else 0.0
            self.stdout.write(f"  {language}: {share:.1%} of {figures['held_out']:,}")

    def _progress(self, what: str, done: int, total: int) -> None:
        self.stdout.write(f"  {what}: {done:,} of {total:,} conversations")
