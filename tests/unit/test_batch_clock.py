"""`BatchClock`: when a batch stops starting records, read from the Lambda context's remaining
time (the margin, at most a quarter of the starting time, plus the slowest record so far)."""

from __future__ import annotations

from soorma.runtime.time_budget import BatchClock, BatchOutOfTimeError
from soorma_common.errors import TransientError


class Remaining:
    """A Lambda context whose remaining time the test sets."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> int:
        return self.ms


def starts(clock: BatchClock, context: Remaining, durations: list[int]) -> int:
    """How many records of the given durations the clock lets start."""
    started = 0
    for duration in durations:
        if not clock.may_start():
            break
        started += 1
        context.ms -= duration
    return started


def test_the_first_record_always_starts_even_with_less_than_the_margin_left() -> None:
    context = Remaining(100)  # margin min(2000, 25): 40 left < 25 + 60 after the first
    assert starts(BatchClock(context, 2_000), context, [60, 10]) == 1


def test_records_start_while_the_margin_plus_the_slowest_record_is_left() -> None:
    context = Remaining(60_000)  # a quarter is 15 s: the 2 s margin stands
    clock = BatchClock(context, 2_000)
    # 60 -> 50 -> 40 -> 30 -> 20 -> 10 s left; 10 s < 2 s + 10 s: the sixth does not start
    assert starts(clock, context, [10_000] * 10) == 5
    error = clock.out_of_time(5)
    assert isinstance(error, BatchOutOfTimeError) and isinstance(error, TransientError)
    assert "SOORMA_BATCH_STOP_MARGIN_MS" in str(error) and "10000 ms" in str(error)


def test_a_short_invocation_keeps_at_most_a_quarter_of_its_time_as_margin() -> None:
    context = Remaining(4_000)  # margin min(2000, 1000) = 1000
    assert starts(BatchClock(context, 2_000), context, [100] * 10) == 10
    context = Remaining(4_000)  # 4 -> 3 -> 2 -> 1 s left; 1 s < 1 s + 1 s: the fourth waits
    assert starts(BatchClock(context, 2_000), context, [1_000] * 10) == 3


def test_without_a_context_every_record_starts() -> None:
    clock = BatchClock(None, 2_000)
    assert all(clock.may_start() for _ in range(20))
