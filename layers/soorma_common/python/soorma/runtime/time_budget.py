"""When a batch stops starting records: before Lambda would end the invocation mid-record.

A record Lambda's timeout cuts short is lost work: the records already handled are not flushed
(their events wait a visibility timeout, their claims stay in progress until it ends) and every
record of the batch spends a receive towards its DLQ. So, before each record but the first, the
batch checks the invocation's remaining time: when less than the margin plus the slowest record
so far is left, it starts no more; the records not started are reported failed (retried soon, a
receive spent) and the handled ones flushed. The margin is `SOORMA_BATCH_STOP_MARGIN_MS`, but at
most a quarter of the time the batch started with, so that a short timeout still handles most
of a batch.
"""

from __future__ import annotations

from typing import Any

from soorma_common.errors import TransientError


class BatchOutOfTimeError(TransientError):
    """A record not started because the invocation was running out of time (retried)."""


class BatchClock:
    """Times a batch's records by the Lambda context's remaining time (no context: no bound)."""

    def __init__(self, lambda_context: Any, margin_ms: int) -> None:
        self._remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
        self._margin_ms = margin_ms
        self._slowest_ms = 0
        self._last: int | None = None

    def may_start(self) -> bool:
        """Whether the next record may start (always the first: a function whose timeout is
        under the margin still makes progress)."""
        if self._remaining is None:
            return True
        now: int = self._remaining()
        last, self._last = self._last, now
        if last is None:
            self._margin_ms = min(self._margin_ms, now // 4)
            return True
        self._slowest_ms = max(self._slowest_ms, last - now)
        return now >= self._margin_ms + self._slowest_ms

    def out_of_time(self, not_started: int) -> BatchOutOfTimeError:
        """The error of the records the batch does not start."""
        return BatchOutOfTimeError(
            f"not started: {self._last} ms were left of the invocation, under the margin of "
            f"{self._margin_ms} ms (SOORMA_BATCH_STOP_MARGIN_MS) plus the slowest record so far "
            f"({self._slowest_ms} ms); {not_started} record(s) will be retried"
        )
