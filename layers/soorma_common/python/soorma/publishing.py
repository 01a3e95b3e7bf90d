"""Putting envelopes onto EventBridge: size checks, batches of 10, retries of failed entries.

One code path for every publisher: the runtime's flush after a handler succeeds, the redelivery
re-flush of stored events, and `EventPublisher` for code outside Lambda.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from soorma_common.envelope import EventEnvelope
from soorma_common.errors import EventTooLargeError, PublishError

from soorma import clients
from soorma.config import settings

#: EventBridge's limit of entries per PutEvents call.
MAX_ENTRIES_PER_PUT = 10

WireEvent = dict[str, Any]


def check_size(envelope_json: str, event_type: str, limit: int) -> None:
    """Raise `EventTooLargeError` (permanent) naming both sizes when the envelope is too big."""
    size = len(envelope_json.encode("utf-8"))
    if size > limit:
        raise EventTooLargeError(
            f"event {event_type!r} is {size} bytes, over the {limit}-byte limit "
            "(SOORMA_MAX_EVENT_BYTES): store the payload elsewhere (e.g. S3) and send a reference"
        )


def to_entry(wire: WireEvent, bus: str, trace_header: str | None) -> dict[str, Any]:
    """The PutEvents entry for one envelope (Source, DetailType, Detail, bus, X-Ray header)."""
    entry = {
        "Source": wire["source"],
        "DetailType": wire["type"],
        "Detail": json.dumps(wire, separators=(",", ":"), ensure_ascii=False),
        "EventBusName": bus,
    }
    if trace_header:
        entry["TraceHeader"] = trace_header
    return entry


def current_trace_header() -> str | None:
    """The X-Ray trace header of the current Lambda invocation, when tracing is active."""
    return os.environ.get("_X_AMZN_TRACE_ID") or None


class EventBridgePublisher:
    """Puts wire envelopes on one bus, 10 per call, retrying failed entries with backoff.

    `put_events` is the PutEvents callable (default: the process's boto3 `events` client); tests
    and benchmarks may pass a stub. Raises `PublishError` (transient) when entries still fail
    after `max_attempts`.
    """

    def __init__(
        self,
        bus: str | None = None,
        *,
        put_events: Callable[..., dict[str, Any]] | None = None,
        max_attempts: int | None = None,
        backoff_seconds: float | None = None,
        max_event_bytes: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        conf = settings()
        self.bus = bus or conf.event_bus
        self._put_events = put_events
        self.max_attempts = max_attempts or conf.publish_max_attempts
        self.backoff_seconds = conf.publish_backoff_seconds if backoff_seconds is None else backoff_seconds
        self.max_event_bytes = max_event_bytes or conf.max_event_bytes
        self._sleep = sleep

    def put_wire(self, events: Sequence[WireEvent]) -> None:
        """Publish already-serialized envelopes (in order, in batches of at most 10)."""
        if not events:
            return
        trace_header = current_trace_header()
        entries = [to_entry(w, self.bus, trace_header) for w in events]
        for entry in entries:
            check_size(entry["Detail"], entry["DetailType"], self.max_event_bytes)
        for start in range(0, len(entries), MAX_ENTRIES_PER_PUT):
            self._put_batch(entries[start : start + MAX_ENTRIES_PER_PUT])

    def put(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Publish envelopes."""
        self.put_wire([e.to_wire() for e in envelopes])

    def _call(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        put = self._put_events or clients.client("events").put_events
        return put(Entries=entries)

    def _put_batch(self, entries: list[dict[str, Any]]) -> None:
        pending = entries
        delay = self.backoff_seconds
        for attempt in range(1, self.max_attempts + 1):
            response = self._call(pending)
            if not response.get("FailedEntryCount"):
                return
            results = response.get("Entries", [])
            failed = [e for e, r in zip(pending, results, strict=False) if r.get("ErrorCode")]
            errors = sorted({r.get("ErrorCode", "?") for r in results if r.get("ErrorCode")})
            pending = failed or pending
            if attempt < self.max_attempts:
                self._sleep(delay)
                delay *= 2
        raise PublishError(
            f"PutEvents still failed for {len(pending)} of {len(entries)} entries after "
            f"{self.max_attempts} attempts (error codes: {', '.join(errors)}); the record will be retried"
        )


class EventPublisher:
    """Publish events from code outside Lambda (an API, a script) with the same rules.

    Every call starts or continues one workflow: pass `correlation_id` to continue one.
    """

    def __init__(self, source: str, *, bus: str | None = None, **publisher_options: Any) -> None:
        self.source = source
        self._publisher = EventBridgePublisher(bus, **publisher_options)

    def publish(self, topic: Any, event_type: str, data: Any = None, **attributes: Any) -> EventEnvelope:
        """Build, validate and publish one envelope; return it (its `id` and `correlation_id`)."""
        envelope = EventEnvelope(source=self.source, type=event_type, topic=topic, data=data, **attributes)
        self._publisher.put([envelope])
        return envelope

    def publish_envelopes(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Publish ready-made envelopes, in batches of at most 10."""
        self._publisher.put(envelopes)
