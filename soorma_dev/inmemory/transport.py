"""The `Transport` an agent's runtime uses on the in-memory bus."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from soorma.deadlines import Deadlines
from soorma.publishing import PutEventsEntry
from soorma.requests import PendingRequests
from soorma.runtime.transport import ClaimKeeper, SqsRecord
from soorma_common.errors import PermanentError
from soorma_dev.inmemory.eventbridge import InMemoryEventBridge

#: Where the bus takes a dead letter: the raw SQS record and the error that condemned it.
DeadLetterSink = Callable[[SqsRecord, PermanentError], None]


class InMemoryTransport:
    """PutEvents into the bus's EventBridge, dead letters into the bus's DLQs, claims in a dict
    (or none), and the bus's pending-request ledger (replies are checked as on AWS)."""

    def __init__(
        self,
        eventbridge: InMemoryEventBridge,
        dead_letters: DeadLetterSink,
        claims: ClaimKeeper | None,
        pending_requests: PendingRequests | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.eventbridge = eventbridge
        self._dead_letters = dead_letters
        self._claims = claims
        #: The requests agents sent, checked against each reply (`soorma.requests`).
        self.pending_requests = pending_requests
        #: Request deadlines, fired by the bus when told (`InMemoryBus.fire_deadlines`).
        self.deadlines = deadlines

    @property
    def claims(self) -> ClaimKeeper | None:
        """The agent's claim store (None when the bus runs without idempotency)."""
        return self._claims

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        """One PutEvents request on the bus; the failed positions and their error codes."""
        return self.eventbridge.put_entries(entries)

    def dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        """Put the record in the DLQ of the queue it came from."""
        self._dead_letters(record, error)
