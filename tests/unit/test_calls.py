"""`wait_for_reply` polls with backoff until the reply or the timeout (a fake clock: no waiting)."""

from __future__ import annotations

import pytest

from soorma.calls import CallTimeoutError, wait_for_reply
from soorma_common import EventEnvelope

REQUEST = EventEnvelope(
    source="soorma.script", type="math.add", topic="action-requests", response_event="math.answered"
)


class Log:
    def __init__(self, answer_after: int | None) -> None:
        self.reads = 0
        self.answer_after = answer_after

    def reply_to(self, request: EventEnvelope) -> EventEnvelope | None:
        self.reads += 1
        if self.answer_after is not None and self.reads > self.answer_after:
            return EventEnvelope(
                source="soorma.calc",
                type="math.answered",
                topic="action-results",
                causation_id=request.id,
            )
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_reply_is_returned_when_it_is_logged() -> None:
    clock, log = Clock(), Log(answer_after=3)
    reply = wait_for_reply(REQUEST, log, timeout=30, sleep=clock.sleep, clock=lambda: clock.now)
    assert reply.causation_id == REQUEST.id
    assert clock.sleeps == [0.2, 0.4, 0.8]  # backoff between the reads


def test_no_reply_within_the_timeout_raises_with_the_request() -> None:
    clock, log = Clock(), Log(answer_after=None)
    with pytest.raises(CallTimeoutError, match="within 5 s") as waited:
        wait_for_reply(REQUEST, log, timeout=5, sleep=clock.sleep, clock=lambda: clock.now)
    assert waited.value.request is REQUEST
    assert clock.now == pytest.approx(5.0) and max(clock.sleeps) <= 2.0
