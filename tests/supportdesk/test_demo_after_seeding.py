"""The steps the apps register to run after seeding: each runs once a seeding, in the order
they registered, told whether the run wrote anything, and answers with its outcome."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from supportdesk import seeding as after_seeding
from supportdesk.seeding import StepProgress, step_register, steps_run


@pytest.fixture(autouse=True)
def no_registered_steps(monkeypatch) -> None:
    monkeypatch.setattr(after_seeding, "_steps", {})


def test_every_registered_step_runs_in_order_with_the_runs_facts_and_its_outcome_is_returned():
    calls = []

    def counters(*, wrote: bool, on_progress: Callable[[StepProgress], None] | None) -> str:
        calls.append(("counters", wrote))
        on_progress(StepProgress(what="counters", done=1, total=2, unit="conversations"))
        return "Counters: worked out."

    def search(*, wrote: bool, on_progress: Callable[[StepProgress], None] | None) -> str:
        calls.append(("search", wrote))
        return "Search: up to date."

    step_register(name="counters", step=counters)
    step_register(name="search", step=search)
    progress: list[StepProgress] = []

    outcomes = steps_run(wrote=True, on_progress=progress.append)

    assert calls == [("counters", True), ("search", True)]
    assert outcomes == ["Counters: worked out.", "Search: up to date."]
    assert progress == [StepProgress(what="counters", done=1, total=2, unit="conversations")]


def test_registering_a_name_again_replaces_its_step():
    step_register(name="counters", step=lambda *, wrote, on_progress: "old")
    step_register(name="counters", step=lambda *, wrote, on_progress: "new")

    assert steps_run(wrote=False) == ["new"]
