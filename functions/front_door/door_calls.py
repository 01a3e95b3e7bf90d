"""`POST /call`: publish a request and wait, within a bound, for its reply in the event log.

The bound is `SOORMA_FRONT_DOOR_CALL_SECONDS` (default 25 s), never above `MAX_CALL_SECONDS`
(API Gateway HTTP API's 30 s integration timeout minus a margin) and never above what is left
of the function's own timeout minus the same margin: the caller gets an answer from the front
door, 200 with the reply or 202 with where to look later, never API Gateway's 504.

`clock` and `sleep` are module attributes so that tests advance time without waiting.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from soorma.calls import CallTimeoutError, EventLogReader, wait_for_reply
from soorma_common.envelope import EventEnvelope
from soorma_common.front_door import CALL_MARGIN_SECONDS, CALL_SECONDS, MAX_INTEGRATION_SECONDS

#: The wait when `CALL_SECONDS` is not set.
DEFAULT_CALL_SECONDS = 25.0
#: API Gateway HTTP API's integration timeout minus the margin kept below it: answering,
#: publishing and the last poll take time too.
MARGIN_SECONDS = float(CALL_MARGIN_SECONDS)
MAX_CALL_SECONDS = float(MAX_INTEGRATION_SECONDS - CALL_MARGIN_SECONDS)

#: The wait's time source and pause (tests replace them).
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


def call_seconds(env: Mapping[str, str] | None = None, remaining_ms: int | None = None) -> float:
    """How long one `POST /call` waits: the configured bound, at most `MAX_CALL_SECONDS` and at
    most the function's remaining time minus `MARGIN_SECONDS` (0 when none is left)."""
    env = os.environ if env is None else env
    configured = env.get(CALL_SECONDS)
    try:
        bound = float(configured) if configured else DEFAULT_CALL_SECONDS
        if math.isnan(bound):
            raise ValueError(configured)
    except ValueError:
        raise RuntimeError(
            f"{CALL_SECONDS}={configured!r} is not a number of seconds: set it to e.g. 25"
        ) from None
    bound = min(max(bound, 0.0), MAX_CALL_SECONDS)
    if remaining_ms is not None:
        bound = min(bound, max(remaining_ms / 1000 - MARGIN_SECONDS, 0.0))
    return bound


def await_reply(
    request: EventEnvelope, table: str, dynamodb: Any, seconds: float
) -> EventEnvelope | None:
    """The reply to `request` (its envelope) once the event log holds it, or None after
    `seconds`."""
    reader = EventLogReader(table, dynamodb=dynamodb)
    try:
        return wait_for_reply(request, reader, timeout=seconds, sleep=sleep, clock=clock)
    except CallTimeoutError:
        return None


def replied(reply: EventEnvelope, correlation_id: str) -> dict[str, Any]:
    """The 200 answer: the reply as on the wire, and the workflow's correlation id."""
    return {"reply": reply.to_wire(), "correlation_id": correlation_id}


def pending(request: EventEnvelope) -> dict[str, Any]:
    """The 202 answer: no reply yet; where to read the workflow later."""
    return {
        "correlation_id": request.correlation_id,
        "request_id": request.id,
        "status_url": f"/workflows/{request.correlation_id}",
    }
