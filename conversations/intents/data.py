"""The phrases the intent classifier learns from and is measured on, shipped in this folder.

`data/train/<language>.txt` and `data/heldout/<language>.txt` hold customer messages written for
this project, one a line, under `[intent]` headings (`#` starts a comment). The held-out files
are other phrasings of the same requests, never copies of training lines (a test checks), so the
accuracy measured on them says how the model does on messages it has not seen.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

INTENTS: tuple[str, ...] = ("order_status", "late", "cancel", "refund", "missing_item", "account", "other")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str


class DataError(ValueError):
    """A data file that does not parse: a phrase outside an intent's heading, an unknown intent."""


def parse(text: str, *, language: str, source: str = "<string>") -> list[Example]:
    examples: list[Example] = []
    intent = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            intent = line[1:-1].strip()
            if intent not in INTENTS:
                raise DataError(f"{source}:{number}: unknown intent {intent!r}")
            continue
        if not intent:
            raise DataError(f"{source}:{number}: a phrase before any [intent] heading")
        examples.append(Example(text=line, intent=intent, language=language))
    return examples


@functools.cache
def load(split: str) -> tuple[Example, ...]:
    """Every example of one split ("train" or "heldout"), in a fixed order (language, then file order)."""
    examples: list[Example] = []
    for path in sorted((DATA_DIR / split).glob("*.txt")):
        examples += parse(path.read_text(encoding="utf-8"), language=path.stem, source=str(path))
    return tuple(examples)


def languages(split: str = "train") -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in (DATA_DIR / split).glob("*.txt")))
