"""The local cloud runs the stall sweep on its rate schedule (moto stores it, never fires it):
a plan that stops progressing gets one `workflow.stalled` on `system-events`, not one per
sweep, in its workflow's trace (time scaled: a minute is a second)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from soorma_common import EventTopic
from soorma_dev.localcloud.stall_sweep import StallSweepSchedule

AGENTS = Path(__file__).resolve().parent / "stalls"


def stalled_in(cloud: Any, correlation_id: str) -> list[Any]:
    found = []
    nodes = list(cloud.trace(correlation_id))
    while nodes:
        node = nodes.pop()
        nodes += node.children
        if node.envelope.type == "workflow.stalled":
            found.append(node.envelope)
    return found


def test_the_local_cloud_reports_a_stalled_plan_once(
    soorma_local_cloud: Callable[..., Any],
) -> None:
    cloud = soorma_local_cloud(
        AGENTS,
        time_scale=1 / 60,  # rate(1 minute) -> every second; stalled after 1 s
        stall_sweep=StallSweepSchedule(every_minutes=1, stalled_after_minutes=1),
    )
    sent = cloud.send(
        "loan.assess",
        {"amount": 5000},
        topic=EventTopic.ACTION_REQUESTS,
        tenant_id="bank",
        user_id="clerk",
    )
    deadline = time.monotonic() + 60
    while not stalled_in(cloud, sent.correlation_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    fired = cloud.schedules.fired
    while cloud.schedules.fired < fired + 3 and time.monotonic() < deadline:
        time.sleep(0.2)  # three more sweeps
    cloud.run_until_idle(timeout=60)

    assert cloud.schedules.fired >= fired + 3
    [stalled] = stalled_in(cloud, sent.correlation_id)
    assert stalled.topic is EventTopic.SYSTEM_EVENTS and stalled.source == "soorma.platform"
    assert stalled.tenant_id == "bank"
    assert stalled.data["state"] == "scoring"
    assert stalled.data["stalled_after_seconds"] == 1.0  # 60 s, scaled by 1/60
