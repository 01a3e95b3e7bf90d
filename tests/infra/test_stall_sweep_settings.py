"""The stall sweep's settings from CDK context (`-c stall-sweep=off`, rate, threshold), without
synthesizing an app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.stall_sweep import (
    STALL_SWEEP_CONTEXT_KEYS,
    StallSweepProps,
    StallSweepSettingsError,
    stall_sweep_from_context,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "deadlines.md"


def context_of(**values: str) -> object:
    return lambda key: values.get(key.replace("-", "_"))


def test_off_turns_the_sweep_off() -> None:
    assert stall_sweep_from_context(context_of(stall_sweep="off")) is None
    assert stall_sweep_from_context(context_of(stall_sweep="OFF")) is None


def test_the_rate_and_threshold_come_from_context() -> None:
    props = stall_sweep_from_context(
        context_of(stall_sweep_every_minutes="1", stall_sweep_after_minutes="30")
    )
    assert props is not None
    assert props.rate_expression() == "rate(1 minute)"
    assert json.loads(props.schedule_input()) == {"stalled_after_seconds": 1800}
    assert StallSweepProps().rate_expression() == "rate(5 minutes)"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stall_sweep": "maybe"}, "use on or off"),
        ({"stall_sweep_every_minutes": "0"}, "every_minutes=0 is outside 1..1440"),
        (
            {"stall_sweep_every_minutes": "10", "stall_sweep_after_minutes": "5"},
            "stalled_after_minutes=5 is shorter than the sweep's rate",
        ),
    ],
)
def test_settings_out_of_range_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(StallSweepSettingsError, match=message):
        stall_sweep_from_context(context_of(**values))


def test_the_context_keys_are_documented_and_reach_the_stack_props() -> None:
    from aws_cdk import App

    from infra.app import props_from_context

    doc = DOC.read_text()
    for key in STALL_SWEEP_CONTEXT_KEYS:
        assert f"| `{key}` |" in doc
    assert props_from_context(App(context={"stall-sweep": "off"}))["stall_sweep"] is None
    tuned = props_from_context(App(context={"stall-sweep-after-minutes": "60"}))
    assert tuned["stall_sweep"] == StallSweepProps(stalled_after_minutes=60)
    assert "stall_sweep" not in props_from_context(App())  # the default: on
