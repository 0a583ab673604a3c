"""Back-pressure: a bulk producer waits (a bounded moment) while latency-sensitive work is behind."""

from __future__ import annotations

import logging

import pytest

from supportdesk import backpressure


@pytest.fixture
def probes(monkeypatch):
    """The registry emptied for the test (the apps' own probes restored after)."""
    registry: dict = {}
    monkeypatch.setattr(backpressure, "_probes", registry)
    return registry


def test_with_nothing_behind_a_producer_goes_on_at_once(probes) -> None:
    asked = []
    backpressure.probe_register("calm", lambda: asked.append(1) or False)
    assert backpressure.behind() == []
    assert backpressure.give_way(max_seconds=5) < 1 and len(asked) == 2


def test_a_producer_waits_while_behind_and_goes_on_when_caught_up(probes, monkeypatch) -> None:
    answers = iter([True, True, True, False])
    slept = []
    monkeypatch.setattr(backpressure.time, "sleep", slept.append)
    backpressure.probe_register("triggers", lambda: next(answers))
    backpressure.give_way(max_seconds=60)
    assert len(slept) == 3 and all(0 < pause <= backpressure.POLL_SECONDS for pause in slept)


def test_a_producer_waits_no_longer_than_the_limit_when_a_consumer_stays_behind(probes, settings) -> None:
    settings.BACKPRESSURE_MAX_WAIT_SECONDS = 0.2
    backpressure.probe_register("stuck", lambda: True)
    assert backpressure.behind() == ["stuck"]
    waited = backpressure.give_way()
    assert 0.2 <= waited < 30  # bounded: the bulk work still moves


def test_no_waiting_when_back_pressure_is_switched_off(probes, settings) -> None:
    settings.BACKPRESSURE_MAX_WAIT_SECONDS = 0
    asked = []
    backpressure.probe_register("stuck", lambda: asked.append(1) or True)
    assert backpressure.give_way() == 0 and asked == []


def test_a_probe_that_fails_counts_as_not_behind_and_is_logged(probes, caplog, monkeypatch) -> None:
    monkeypatch.setattr(backpressure.log, "disabled", False)  # whatever logging set-up ran before
    def broken() -> bool:
        raise ConnectionError("database gone")

    backpressure.probe_register("broken", broken)
    backpressure.probe_register("behind", lambda: True)
    with caplog.at_level(logging.WARNING, logger="supportdesk.backpressure"):
        assert backpressure.behind() == ["behind"]
    assert "Back-pressure probe broken failed" in caplog.text
