"""The registries integrations fill: actions and channels, without workflows importing them."""

from __future__ import annotations

from workflows import registry


def test_actions_and_channels_register_and_replace() -> None:
    def run(params, context):
        return registry.StepResult(summary="done")

    registry.action_register("test_action", label="Test", params_errors=lambda params: [], run=run)
    registry.action_register("test_action", label="Test again", params_errors=lambda params: ["bad"], run=run)
    registry.channel_register("test_channel", label="Test", send=lambda *a, **k: "ref-1")

    assert registry.actions()["test_action"].label == "Test again"
    assert registry.action("test_action").params_errors({}) == ["bad"]
    assert registry.channels()["test_channel"].send(None, None, idempotency_key="k", context=None) == "ref-1"
    assert registry.action("missing") is None
