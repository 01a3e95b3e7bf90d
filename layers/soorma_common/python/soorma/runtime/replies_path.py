"""Requests and replies on their way through the runtime: recording a record's requests at the
flush, and the platform's timeout replies, which the hop limit does not stop.

**Recording, one record at a time.** Before the batch's events are put, the requests among each
handled record's events are recorded (`soorma.requests`) and their deadlines scheduled
(`soorma.deadlines`), record by record, so that a record whose requests cannot be kept fails
alone: a `PermanentError` (a hand-set deadline whose timeout reply is no valid envelope) sends
that record to the DLQ, a transient error retries it, and its batch-mates' events are put. The
timeout replies of a record's requests are built before anything is written, so a record refused
for its deadline leaves no pending request and no schedule behind.

**Timeout replies and the hop limit.** A request's timeout reply carries the request's hop count
plus one, like any reply; a request sent at `SOORMA_MAX_HOPS` would have it refused as a loop
and its requester would get no outcome at all. The platform (`soorma.platform`) handles nothing,
so its timeout reply cannot be part of a loop: it is exempt from the check. What the requester's
result handler publishes in turn is over the limit and is stopped where it is handled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from soorma.deadlines import (
    Deadlines,
    is_timeout_reply,
    not_in_the_past,
    requests_with_deadlines,
    timeout_reply,
)
from soorma.publishing import OutgoingEvent
from soorma.requests import PendingRequests, sent_requests
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import InvalidEnvelopeError, PermanentError
from soorma_common.naming import PLATFORM_SOURCE
from soorma_common.replies import is_addressed_reply


def is_platform_timeout(envelope: EventEnvelope, agent: str) -> bool:
    """Whether `envelope` is a timeout reply the platform put for one of `agent`'s requests
    (exempt from the hop limit: it cannot loop)."""
    return (
        envelope.source == PLATFORM_SOURCE
        and envelope.reply_to == agent
        and is_addressed_reply(envelope.topic, envelope.reply_to, envelope.response_event)
        and is_timeout_reply(envelope.data)
    )


class RequestRecorder:
    """Records the requests among one handled record's outgoing events, before they are put."""

    def __init__(
        self, agent: str, pending: PendingRequests | None, deadlines: Deadlines | None
    ) -> None:
        self.agent = agent
        self.pending = pending
        self.deadlines = deadlines

    def record(self, events: Sequence[OutgoingEvent]) -> None:
        """Keep the requests among `events` and schedule their deadlines (after the record: a
        timeout always finds it). Raises `PermanentError` before writing anything when a
        deadline cannot be scheduled; any other error is transient."""
        if self.pending is None:
            return
        wires = [event.wire for event in events]
        requests = sent_requests(self.agent, wires)
        if not requests:
            return
        timed = requests_with_deadlines(wires) if self.deadlines is not None else []
        for request in timed:
            _check_timeout(request)
        self.pending.record(requests)
        if self.deadlines is not None and timed:
            self.deadlines.schedule(timed)

    def record_each(self, groups: Sequence[Sequence[OutgoingEvent]]) -> list[tuple[int, Exception]]:
        """Record each group's requests (one group per handled record); return the positions
        of the groups that could not be recorded, with their errors (the others are kept)."""
        errors: list[tuple[int, Exception]] = []
        for position, events in enumerate(groups):
            try:
                self.record(events)
            except Exception as exc:  # the caller decides: dead letter or retry
                errors.append((position, exc))
        return errors


def _check_timeout(request: Mapping[str, Any]) -> None:
    """Refuse (`InvalidEnvelopeError`, naming the deadline) a request whose timeout reply cannot
    be built or scheduled."""
    try:
        timeout_reply(request)
        not_in_the_past(str(request["deadline"]))
    except (PermanentError, ValueError, TypeError, KeyError) as exc:
        name = f"{str(request.get('id'))[:80]!r} ({str(request.get('type'))[:80]!r})"
        raise InvalidEnvelopeError(
            f"request {name} has the deadline {str(request.get('deadline'))[:60]!r}, for which "
            f"no timeout reply can be scheduled ({type(exc).__name__}: {str(exc)[:300]}): set "
            "deadlines with request(..., timeout=seconds)"
        ) from exc
