"""The runtime's one I/O seam: where events are put, where dead letters go, where claims live.

`LambdaRuntime` does all its I/O through a `Transport`. The default, `AwsTransport`, is boto3
(EventBridge PutEvents, the queue's DLQ on SQS, conditional claims on DynamoDB); tests, the
in-memory bus, the local cloud and the benchmarks pass their own. A transport is three things:

- `put_entries(entries)`: one PutEvents request of 1 to 10 entries -> the positions that failed,
  with their error codes (the runtime's publisher batches and retries on top of it);
- `dead_letter(record, error)`: send a raw SQS record to its queue's DLQ, with the permanent
  error that condemned it;
- `claims`: the exactly-once claim store, or None to run without idempotency. A store that also
  has `keep_first(key, events) -> StoredEvents | None` (as `ClaimStore` has) serves agents in
  the one-write mode (`soorma.runtime.exactly_once`); without it they are claimed first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from soorma.outbox import StoredEvents
from soorma.publishing import EventSink
from soorma_common.errors import PermanentError

#: A raw SQS record of a Lambda event (`messageId`, `body`, `attributes`, `eventSourceARN`, ...).
SqsRecord = dict[str, Any]


class ClaimKeeper(Protocol):
    """Runs work at most once per key and keeps its result (the outgoing events, in their
    stored form: `soorma.outbox`)."""

    def register_lambda_context(self, lambda_context: Any) -> None:
        """Bound in-progress claims by the invocation's remaining time."""
        ...

    def run_once(self, key: str, work: Callable[[], StoredEvents]) -> StoredEvents:
        """Run `work` unless `key` completed before; return its (stored) outgoing events.
        Raises `ClaimInProgressError` (transient) while another invocation holds the key."""
        ...


class Transport(EventSink, Protocol):
    """Everything `LambdaRuntime` sends or stores: PutEvents, dead letters, claims."""

    @property
    def claims(self) -> ClaimKeeper | None:
        """The claim store (None: no idempotency, as with `SOORMA_IDEMPOTENCY=off`)."""
        ...

    def dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        """Send `record` (its body, the EventBridge event) to the DLQ of the queue it came from,
        with `error` as its reason. Raises when it cannot (the record is then retried)."""
        ...
