"""The local cloud fires request deadlines (moto stores Scheduler schedules, never fires them):
a responder that dead-letters leaves the requester with the timeout reply, exactly once,
`time_scale` times the deadline later."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from soorma_common import EventTopic

AGENTS = Path(__file__).resolve().parent / "deadlines"


def test_the_local_cloud_delivers_the_timeout_of_a_dead_lettered_request(
    soorma_local_cloud: Callable[..., Any],
) -> None:
    cloud = soorma_local_cloud(AGENTS, time_scale=1 / 60)  # 30 s -> 0.5 s
    sent = cloud.send(
        "question.asked", {"q": "?"}, topic=EventTopic.BUSINESS_FACTS, tenant_id="acme"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answers = [h for h in cloud.handlings("answer-log") if h.outcome == "handled"]
        if answers:
            break
        time.sleep(0.2)
    cloud.run_until_idle(timeout=60)
    time.sleep(1.0)  # a second firing, were there one, would have come by now
    cloud.run_until_idle(timeout=60)

    [answer] = [h for h in cloud.handlings("answer-log") if h.outcome == "handled"]
    assert answer.event_type == "question.answered"
    [trace_root] = cloud.trace(sent.correlation_id)
    [request] = [c for c in trace_root.children if c.envelope.type == "answer.compute"]
    [timeout] = [c for c in request.children if c.envelope.type == "answer.computed"]
    assert timeout.envelope.source == "soorma.platform"
    assert timeout.envelope.data == {"success": False, "error": "timeout"}
    assert [d.agent for d in cloud.dead_letters()] == ["solver"]
    schedules = cloud.client("scheduler").list_schedules()["Schedules"]
    assert [s["Name"] for s in schedules] == ["soorma-local-stall-sweep"]  # no deadline left
