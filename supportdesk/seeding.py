"""What the apps do once the demo's history is written: steps they register from their
AppConfig.ready(), so the seeding (`supportdesk.demo`) runs them without importing the apps
above the core. Outside the demo package, so registering loads none of it.

The history is written in bulk, past the outbox through which the layers above keep what
they derive from it (the reports' counters, `reports.demo`), so each such app registers a
step that works its part out over the whole history. The seeding runs every step after the
contacts, in the order they registered, telling it whether this run wrote anything (a rerun
that wrote nothing should cost nothing) and where to report its progress; each step answers
with one line for the person seeding, which `manage.py seed_demo` prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StepProgress:
    what: str  # what the step works out, as its progress line names it: "reports' counters"
    done: int
    total: int
    unit: str  # what done and total count: "conversations"


class Step(Protocol):
    def __call__(self, *, wrote: bool, on_progress: Callable[[StepProgress], None] | None) -> str:
        """Do the step (or skip it when there is nothing to do); its one-line outcome."""


_steps: dict[str, Step] = {}


def step_register(*, name: str, step: Step) -> None:
    """Run `step` after every seeding (idempotent: a second registration replaces the first)."""
    _steps[name] = step


def steps_run(*, wrote: bool, on_progress: Callable[[StepProgress], None] | None = None) -> list[str]:
    """Run the registered steps in turn; their outcomes, in that order."""
    return [step(wrote=wrote, on_progress=on_progress) for step in _steps.values()]
