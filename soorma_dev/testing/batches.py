"""From one Lambda invocation to `Handling` records: what the in-memory bus and `MotoHarness`
share (the local cloud's pump writes the same outcomes as activity lines).

The runtime reports each record's final outcome to its observer (`LambdaRuntime(on_outcome=...)`);
the batch response (`batchItemFailures`) says which records come back. Together they give each
record's handling, with the reason of a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from soorma.runtime import RecordOutcome
from soorma_dev.testing.records import Handling, detail_of, now_iso

#: The reason of a record reported failed without an outcome from the runtime (an agent with a
#: `lambda_handler` of its own).
UNEXPLAINED_FAILURE = "reported in batchItemFailures (no reason observed)"


@dataclass(frozen=True)
class DeliveredRecord:
    """One SQS message as passed to the handler: its id, body and receive count."""

    message_id: str
    body: str
    receive_count: int


class OutcomeRecorder:
    """The runtime's outcome observer: the outcomes reported during the invocation under way."""

    def __init__(self) -> None:
        self.by_message: dict[str, RecordOutcome] = {}

    def observe(self, outcome: RecordOutcome) -> None:
        """`LambdaRuntime(on_outcome=recorder.observe)`: remember one record's outcome."""
        self.by_message[outcome.message_id] = outcome

    def begin_batch(self) -> None:
        """Forget the outcomes of the previous invocation."""
        self.by_message.clear()


def batch_handlings(
    agent: str,
    topic: str,
    records: Iterable[DeliveredRecord],
    failed: set[str],
    outcomes: Mapping[str, RecordOutcome],
    crash: str | None = None,
) -> list[Handling]:
    """The handling of every record of one invocation.

    A record the runtime dead-lettered is `"dead-lettered"`; one in `failed` (the
    `batchItemFailures`, or every record when the invocation raised: `crash` is its reason) is
    `"failed"`; the rest are `"handled"`.
    """
    handlings = []
    for record in records:
        noted = outcomes.get(record.message_id)
        detail = detail_of(record.body)
        reason: str | None = None
        if noted is not None and noted.outcome == "dead-lettered":
            outcome, reason = "dead-lettered", noted.reason
        elif record.message_id in failed:
            outcome = "failed"
            reason = crash or (noted.reason if noted is not None else None) or UNEXPLAINED_FAILURE
        else:
            outcome = "handled"
        handlings.append(
            Handling(
                agent=agent,
                topic=str(detail.get("topic") or topic),
                event_id=detail.get("id"),
                event_type=detail.get("type"),
                message_id=record.message_id,
                receive_count=record.receive_count,
                outcome=outcome,  # type: ignore[arg-type]
                reason=reason,
                time=now_iso(),
            )
        )
    return handlings


def moved_after_max_receives(last_failure: Handling) -> Handling:
    """The `"dead-lettered"` handling of a record SQS moves to its DLQ after its last failed
    receive (`maxReceiveCount`): the same record, with the reason of that failure."""
    return replace(last_failure, outcome="dead-lettered", time=now_iso())
