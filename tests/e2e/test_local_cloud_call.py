"""`EventPublisher.call` from a script: a request to the local cloud's calculator Tool, the reply
read back from the event log; a request nobody answers times out with the request in hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from soorma.calls import CallTimeoutError, EventLogReader
from soorma.publishing import EventBridgeSink, EventPublisher

CALCULATOR = Path(__file__).resolve().parents[2] / "examples" / "calculator-tool"


def test_a_script_calls_a_tool_and_gets_its_reply(soorma_local_cloud: Callable[..., Any]) -> None:
    cloud = soorma_local_cloud(CALCULATOR)
    publisher = EventPublisher(
        "soorma.script",
        bus=cloud.platform.bus_name,
        sink=EventBridgeSink(cloud.client("events")),
        validate_payload=lambda event_type, data: None,
    )
    log = EventLogReader(cloud.platform.tables["events"], dynamodb=cloud.client("dynamodb"))

    reply = publisher.call("math.add", {"a": 2, "b": 3}, "math.answered", timeout=60, reader=log)
    assert (reply.type, reply.data, reply.source) == (
        "math.answered",
        {"success": True, "result": 5},
        "soorma.calculator",
    )

    with pytest.raises(CallTimeoutError, match=r"no 'nobody\.answered' reply") as waited:
        publisher.call("nobody.listens", {}, "nobody.answered", timeout=1, reader=log)
    assert waited.value.request.type == "nobody.listens"
