"""What became of each SQS record of a batch, for whoever watches the runtime.

`LambdaRuntime(agent, on_outcome=observer)` calls `observer(RecordOutcome(...))` exactly once per
record of every batch, with its final outcome:

- `"handled"`: the handler ran (or its stored result was found) and its events, if any, were put;
- `"failed"`: a transient error (the record is in `batchItemFailures` and comes back), including
  a record whose handler succeeded but whose events could not be put (its `error` is then a
  `PublishError` saying so);
- `"dead-lettered"`: a permanent error; the record was sent to its queue's DLQ.

Failed and dead-lettered records are reported as they happen; handled ones once the batch's
events are flushed. The observer runs inside the invocation: it must be quick and must not raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from soorma.publishing import OutgoingEvent
from soorma.runtime.transport import SqsRecord

Outcome = Literal["handled", "failed", "dead-lettered"]


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """The final outcome of one SQS record: its message id, the outcome and, when it failed or
    was dead-lettered, the error."""

    message_id: str
    outcome: Outcome
    error: BaseException | None = None

    @property
    def reason(self) -> str | None:
        """`"<ErrorType>: <message>"` of the error, or None when the record was handled."""
        if self.error is None:
            return None
        return f"{type(self.error).__name__}: {self.error}"


#: Called once per record of every batch with its final outcome.
OutcomeObserver = Callable[[RecordOutcome], None]


class HandledRecord(NamedTuple):
    """A record whose handler succeeded: the raw record, the handled event's type, and the
    events to put for it (encoded and measured; stored with its claim in wire form)."""

    record: SqsRecord
    event_type: str
    events: list[OutgoingEvent]
