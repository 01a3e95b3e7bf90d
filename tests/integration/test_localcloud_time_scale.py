"""The local cloud's scaled time: a claim held by a crashed invocation must expire before the
record's receives run out, as on AWS (function timeout = visibility timeout / 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_dev.localcloud.cloud import LocalCloud

GREETER = Path(__file__).resolve().parents[2] / "examples" / "hello-world" / "greeter"


@pytest.mark.parametrize("time_scale", [1 / 180, 1 / 90, 0.1, 0.5])
def test_a_crashed_claim_expires_before_the_receives_run_out(tmp_path, time_scale) -> None:
    cloud = LocalCloud([GREETER], time_scale=time_scale, state_dir=tmp_path)
    # the record comes back every visibility timeout; its last receive is after this many
    last_receive = (MAX_RECEIVE_COUNT - 1) * cloud.visibility_timeout_seconds
    assert cloud.invocation_seconds < last_receive
    assert cloud.invocation_seconds <= cloud.function_timeout_seconds


def test_unscaled_time_keeps_the_function_timeout(tmp_path) -> None:
    cloud = LocalCloud([GREETER], time_scale=1.0, state_dir=tmp_path)
    assert cloud.invocation_seconds == cloud.function_timeout_seconds
