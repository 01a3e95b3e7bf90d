"""Putting events onto EventBridge: one encoding (and size check) per event, requests of at most
10 entries and 256 KB, retries of failed entries.

One put path for every publisher: the runtime's flush after a handler succeeds (and the re-flush
of stored events on a redelivery), and `EventPublisher` for code outside Lambda. An event is
encoded once, by `encode_event`, which is also where its size is checked; what is put after
that is never measured again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from soorma import clients
from soorma.config import settings
from soorma_common.envelope import EventEnvelope, encode_wire
from soorma_common.errors import EventTooLargeError, InvalidEnvelopeError, PublishError
from soorma_common.replies import is_failure_reply

#: EventBridge's limit of entries per PutEvents call.
MAX_ENTRIES_PER_PUT = 10
#: EventBridge's limit on one PutEvents request: "The total entry size must be less than 256KB"
#: (Amazon EventBridge User Guide, "Calculating Amazon EventBridge PutEvents event entry size",
#: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html). An entry's
#: size is the UTF-8 bytes of its `Source`, `DetailType` and `Detail` (plus 14 for `Time` and
#: each `Resources` entry, which Soorma never sets). A request over it is refused whole.
MAX_PUT_EVENTS_REQUEST_BYTES = 256 * 1024 - 1

#: An envelope in wire form (what the bus buffers and the idempotency record stores).
WireEvent = dict[str, Any]
#: One PutEvents entry: `Source`, `DetailType`, `Detail`, `EventBusName` and, when tracing,
#: `TraceHeader`.
PutEventsEntry = dict[str, str]


class OutgoingEvent(NamedTuple):
    """One event ready to be put: its id, type, source, the encoded EventBridge `Detail` (the
    envelope JSON, measured when it was encoded) and its size in bytes, and the wire form (what
    an idempotency record stores)."""

    id: str
    type: str
    source: str
    detail: str
    size: int
    wire: WireEvent

    @property
    def entry_size(self) -> int:
        """The size of its PutEvents entry as EventBridge counts it (`Source` + `DetailType` +
        `Detail`, UTF-8 bytes; see `MAX_PUT_EVENTS_REQUEST_BYTES`)."""
        return self.size + _utf8_size(self.source) + _utf8_size(self.type)


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def check_size(envelope_json: str, event_type: str, limit: int) -> int:
    """The size of `envelope_json` in bytes; raise `EventTooLargeError` (permanent) naming both
    sizes when it is over `limit`."""
    try:
        size = len(envelope_json) if envelope_json.isascii() else len(envelope_json.encode())
    except UnicodeEncodeError as exc:
        raise InvalidEnvelopeError(
            f"event {event_type!r} holds text that is not valid Unicode ({exc.reason} at "
            f"{exc.object[exc.start : exc.end]!r}): data and attributes must be UTF-8 encodable"
        ) from None
    if size > limit:
        raise EventTooLargeError(
            f"event {event_type!r} is {size} bytes, over the {limit}-byte limit "
            "(SOORMA_MAX_EVENT_BYTES): store the payload elsewhere (e.g. S3) and send a reference"
        )
    return size


def encode_event(wire: WireEvent, limit: int) -> OutgoingEvent:
    """Encode an envelope's EventBridge `Detail` (compact JSON, UTF-8 kept as is) and check its
    size against `limit`: the one place an event is measured."""
    detail = encode_wire(wire)
    size = check_size(detail, wire["type"], limit)
    event = OutgoingEvent(wire["id"], wire["type"], wire["source"], detail, size, wire)
    if event.entry_size > MAX_PUT_EVENTS_REQUEST_BYTES:
        raise EventTooLargeError(
            f"event {wire['type']!r} makes a PutEvents entry of {event.entry_size} bytes "
            f"(Source + DetailType + Detail), over EventBridge's {MAX_PUT_EVENTS_REQUEST_BYTES}"
            "-byte limit of one request: store the payload elsewhere (e.g. S3) and send a reference"
        )
    return event


def to_entry(event: OutgoingEvent, bus: str, trace_header: str | None) -> PutEventsEntry:
    """The PutEvents entry for one event (Source, DetailType, Detail, bus, X-Ray header)."""
    entry = {
        "Source": event.source,
        "DetailType": event.type,
        "Detail": event.detail,
        "EventBusName": bus,
    }
    if trace_header:
        entry["TraceHeader"] = trace_header
    return entry


def current_trace_header() -> str | None:
    """The X-Ray trace header of the current Lambda invocation, when tracing is active."""
    return os.environ.get("_X_AMZN_TRACE_ID") or None


def request_chunks(entry_sizes: Sequence[int]) -> list[range]:
    """Consecutive positions of entries of these sizes, cut into PutEvents requests of at most
    `MAX_ENTRIES_PER_PUT` entries and `MAX_PUT_EVENTS_REQUEST_BYTES` bytes (an entry over the
    byte limit alone, refused at publish by `encode_event`, is sent alone and fails alone)."""
    chunks: list[range] = []
    start, total = 0, 0
    for position, size in enumerate(entry_sizes):
        full = position - start == MAX_ENTRIES_PER_PUT
        if position > start and (full or total + size > MAX_PUT_EVENTS_REQUEST_BYTES):
            chunks.append(range(start, position))
            start, total = position, 0
        total += size
    if start < len(entry_sizes):
        chunks.append(range(start, len(entry_sizes)))
    return chunks


class EventSink(Protocol):
    """Where PutEvents requests go: EventBridge (`EventBridgeSink`), or an in-memory bus."""

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        """Make one PutEvents request of 1 to 10 entries; return the positions of the entries
        that failed, with their error codes (empty: every entry was put). Raises when the
        request itself fails (nothing is known of its entries)."""
        ...


def failed_entries(response: Mapping[str, Any], count: int) -> dict[int, str]:
    """The failed positions and error codes of a PutEvents response to `count` entries (all of
    them, when it reports failures without saying which)."""
    if not response.get("FailedEntryCount"):
        return {}
    failed = {
        position: str(result["ErrorCode"])
        for position, result in enumerate(response.get("Entries", []))
        if result.get("ErrorCode")
    }
    return failed or dict.fromkeys(range(count), "Unknown")


class EventBridgeSink:
    """PutEvents of a boto3 `events` client (default: the process's, built on first use)."""

    def __init__(self, events_client: Any = None) -> None:
        self._events_client = events_client

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        """PutEvents on EventBridge; see `EventSink.put_entries`."""
        client = self._events_client or clients.client("events")
        response = client.put_events(Entries=list(entries))
        return failed_entries(response, len(entries))


@dataclass
class PutOutcome:
    """What `EventBridgePublisher.put_groups` could not publish: the indexes of the groups with
    entries still failing after every retry, and their error codes."""

    failed: dict[int, list[str]] = field(default_factory=dict)


class EventBridgePublisher:
    """Puts encoded events on one bus through an `EventSink`, in requests of at most 10 entries
    and `MAX_PUT_EVENTS_REQUEST_BYTES`, retrying failed entries with backoff
    (`SOORMA_PUBLISH_MAX_ATTEMPTS`, `SOORMA_PUBLISH_BACKOFF_SECONDS`)."""

    def __init__(
        self,
        bus: str | None = None,
        *,
        sink: EventSink | None = None,
        max_attempts: int | None = None,
        backoff_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        conf = settings()
        self.bus = bus or conf.event_bus
        self.sink: EventSink = sink or EventBridgeSink()
        self.max_attempts = max_attempts or conf.publish_max_attempts
        self.backoff_seconds = (
            conf.publish_backoff_seconds if backoff_seconds is None else backoff_seconds
        )
        self._sleep = sleep

    def put_groups(self, groups: Sequence[Sequence[OutgoingEvent]]) -> PutOutcome:
        """Publish the events of several records together, across records, in requests of at
        most 10 entries and `MAX_PUT_EVENTS_REQUEST_BYTES`; a group with entries still failing
        after every retry is in `failed` (its other entries may have been put), the others are
        fully published.

        An event in several groups (same id, same bytes: two deliveries of one event in a batch,
        the second re-sending the first's stored events) is put once, and counts as failed for
        every group holding it when it fails."""
        trace_header = current_trace_header()
        entries: list[PutEventsEntry] = []
        sizes: list[int] = []
        owners: list[list[int]] = []
        positions: dict[str, int] = {}  # event id -> its entry
        for index, group in enumerate(groups):
            for event in group:
                seen = positions.get(event.id)
                if seen is not None and entries[seen]["Detail"] == event.detail:
                    if index not in owners[seen]:
                        owners[seen].append(index)
                    continue
                positions[event.id] = len(entries)
                entries.append(to_entry(event, self.bus, trace_header))
                sizes.append(event.entry_size)
                owners.append([index])
        outcome = PutOutcome()
        for chunk in request_chunks(sizes):
            for position, code in self._put_positions(entries, chunk).items():
                for owner in owners[position]:
                    codes = outcome.failed.setdefault(owner, [])
                    if code not in codes:
                        codes.append(code)
        return outcome

    def put(self, events: Sequence[OutgoingEvent]) -> None:
        """Publish events in order; raise `PublishError` (transient) if entries still fail
        after every retry."""
        if not events:
            return
        failed = self.put_groups([events]).failed
        if failed:
            raise PublishError(
                f"PutEvents still failed for some of {len(events)} entries after "
                f"{self.max_attempts} attempts (error codes: {', '.join(failed[0])}); "
                "publish them again (same ids: consumers drop duplicates)"
            )

    def _put_positions(self, entries: list[PutEventsEntry], positions: range) -> dict[int, str]:
        """Put `entries[p]` for p in `positions` (one request's worth), retrying failed entries with
        backoff; return the positions still failing after `max_attempts`, with their codes."""
        pending = list(positions)
        delay = self.backoff_seconds
        failures: dict[int, str] = {}
        for attempt in range(1, self.max_attempts + 1):
            failed = self.sink.put_entries([entries[p] for p in pending])
            if not failed:
                return {}
            failures = {pending[i]: code for i, code in failed.items()}
            pending = sorted(failures)
            if attempt < self.max_attempts:
                self._sleep(delay)
                delay *= 2
        return failures


class EventPublisher:
    """Publish events from code outside Lambda (an API, a script) with the same rules.

    Every call starts or continues one workflow: pass `correlation_id` to continue one. Payloads
    are checked against the registry like a handler's (`validate_payload`, default: the
    registry's check for publishers, when configured). `sink` replaces EventBridge (tests, an
    in-memory bus); `publisher_options` are `EventBridgePublisher`'s. A request published as
    agent `soorma.<agent>` and addressed back to it (`reply_to=<agent>`) is recorded as a pending
    request before it is put (`soorma.requests`; `pending_requests`, default: the idempotency
    table, when `SOORMA_IDEMPOTENCY_TABLE` is set), so that the agent accepts its reply; with
    `publish(..., timeout=)` it also gets a deadline (`soorma.published_requests`; `deadlines`
    replaces the Scheduler the settings give).
    """

    def __init__(
        self,
        source: str,
        *,
        bus: str | None = None,
        sink: EventSink | None = None,
        validate_payload: Callable[[str, Any], None] | None = None,
        max_event_bytes: int | None = None,
        pending_requests: Any = None,
        deadlines: Any = None,
        **publisher_options: Any,
    ) -> None:
        from soorma.published_requests import PublishedRequests

        self.source = source
        self._requests = PublishedRequests(pending_requests=pending_requests, deadlines=deadlines)
        self._publisher = EventBridgePublisher(bus, sink=sink, **publisher_options)
        self.max_event_bytes = max_event_bytes or settings().max_event_bytes
        self._validate_payload = validate_payload
        self._validator_resolved = validate_payload is not None

    @property
    def validate_payload(self) -> Callable[[str, Any], None] | None:
        """The payload check applied before publishing (resolved on first use), or None."""
        if not self._validator_resolved:
            from soorma.registry.validation import validator_for_publisher

            self._validate_payload = validator_for_publisher()
            self._validator_resolved = True
        return self._validate_payload

    def publish(
        self,
        topic: Any,
        event_type: str,
        data: Any = None,
        *,
        timeout: float | None = None,
        **attributes: Any,
    ) -> EventEnvelope:
        """Build, validate and publish one envelope; return it (its `id` and `correlation_id`).

        With `timeout` (seconds) a request of this agent (source `soorma.<agent>`,
        `reply_to=<agent>`, a `response_event`) gets a deadline: the agent's result handler gets
        the timeout reply when no reply came in time (docs/deadlines.md).

        Raises `SchemaValidationError` (nothing is put) when `data` breaks the event's schema,
        `EventTooLargeError` when the envelope is over `SOORMA_MAX_EVENT_BYTES`,
        `InvalidEnvelopeError` for a timeout on anything else or without a scheduler, and for
        a `deadline` set by hand that a handler could not set either (not exactly
        `YYYY-MM-DDTHH:MM:SSZ`, or past the pending request's lifetime, the claim TTL).
        """
        if timeout is not None:
            attributes["deadline"] = self._requests.deadline(self.source, timeout, attributes)
        envelope = EventEnvelope(
            source=self.source, type=event_type, topic=topic, data=data, **attributes
        )
        self.publish_envelopes([envelope])
        return envelope

    def call(
        self,
        event_type: str,
        data: Any,
        response_event: str,
        *,
        timeout: float = 30.0,
        reader: Any = None,
        **attributes: Any,
    ) -> EventEnvelope:
        """Publish a request on `action-requests` and wait up to `timeout` seconds for its reply
        (read from the event log, `soorma.calls`); return the reply, or raise
        `CallTimeoutError` (the request stays published)."""
        from soorma.calls import EventLogReader, wait_for_reply

        log = reader or EventLogReader()
        request = self.publish(
            "action-requests", event_type, data, response_event=response_event, **attributes
        )
        return wait_for_reply(request, log, timeout=timeout)

    def publish_envelopes(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Publish ready-made envelopes, in requests of at most 10 entries and 256 KB, after
        checking every payload, size and `deadline` (a `SchemaValidationError`,
        `EventTooLargeError` or `InvalidEnvelopeError` records and puts none of them)."""
        validate = self.validate_payload
        if validate is not None:
            for envelope in envelopes:
                if not is_failure_reply(envelope.data, envelope):
                    validate(envelope.type, envelope.data)
        events = [encode_event(e.to_wire(), self.max_event_bytes) for e in envelopes]
        self._record_requests(events)
        self._publisher.put(events)

    def _record_requests(self, events: Sequence[OutgoingEvent]) -> None:
        self._requests.record(self.source, [event.wire for event in events])
