"""manage.py help_search_words: the words a help-center search corrects typos to, rebuilt from
the published versions (helpcenter.services.search_words_rebuild)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from helpcenter.services import search_words_rebuild


class Command(BaseCommand):
    help = ("Rebuild the words a help-center search corrects misspelt words to, from the published article "
            "versions only (publishing adds a version's words; this also drops the words of versions since "
            "unpublished or rewritten).")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        self.stdout.write("Rebuilding the help center's search words from the published versions ...")
        count = search_words_rebuild()
        self.stdout.write(self.style.SUCCESS(f"{count:,} words in {time.monotonic() - started:.1f} s."))
