"""Putting envelopes onto EventBridge: size checks, batches of 10, retries of failed entries.

One code path for every publisher: the runtime's flush after a handler succeeds, the redelivery
re-flush of stored events, and `EventPublisher` for code outside Lambda.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from soorma import clients
from soorma.config import settings
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import EventTooLargeError, PublishError
from soorma_common.replies import is_failure_reply

#: EventBridge's limit of entries per PutEvents call.
MAX_ENTRIES_PER_PUT = 10

WireEvent = dict[str, Any]


_DETAIL_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def check_size(envelope_json: str, event_type: str, limit: int) -> None:
    """Raise `EventTooLargeError` (permanent) naming both sizes when the envelope is too big."""
    size = len(envelope_json) if envelope_json.isascii() else len(envelope_json.encode("utf-8"))
    if size > limit:
        raise EventTooLargeError(
            f"event {event_type!r} is {size} bytes, over the {limit}-byte limit "
            "(SOORMA_MAX_EVENT_BYTES): store the payload elsewhere (e.g. S3) and send a reference"
        )


def encode_detail(wire: WireEvent) -> str:
    """An envelope's EventBridge `Detail`: compact JSON, UTF-8 kept as is."""
    return _DETAIL_ENCODER.encode(wire)


def to_entry(
    wire: WireEvent, bus: str, trace_header: str | None, detail: str | None = None
) -> dict[str, Any]:
    """The PutEvents entry for one envelope (Source, DetailType, Detail, bus, X-Ray header).

    `detail` is the envelope already encoded (by the bus, which measured it), if at hand."""
    entry = {
        "Source": wire["source"],
        "DetailType": wire["type"],
        "Detail": detail or _DETAIL_ENCODER.encode(wire),
        "EventBusName": bus,
    }
    if trace_header:
        entry["TraceHeader"] = trace_header
    return entry


def current_trace_header() -> str | None:
    """The X-Ray trace header of the current Lambda invocation, when tracing is active."""
    return os.environ.get("_X_AMZN_TRACE_ID") or None


@dataclass
class GroupOutcome:
    """What `put_groups` could not publish, by group index."""

    failed: list[int] = field(default_factory=list)
    too_large: dict[int, EventTooLargeError] = field(default_factory=dict)


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
        self.backoff_seconds = (
            conf.publish_backoff_seconds if backoff_seconds is None else backoff_seconds
        )
        self.max_event_bytes = max_event_bytes or conf.max_event_bytes
        self._sleep = sleep
        #: The error codes PutEvents reported on the last failed attempt.
        self.last_error_codes: list[str] = []

    def put_wire(self, events: Sequence[WireEvent]) -> None:
        """Publish already-serialized envelopes (in order, in batches of at most 10).

        Raises `EventTooLargeError` (permanent) before sending anything if one is too big, and
        `PublishError` (transient) if entries still fail after every retry.
        """
        if not events:
            return
        trace_header = current_trace_header()
        entries = []
        for wire in events:
            entry = to_entry(wire, self.bus, trace_header)
            check_size(entry["Detail"], entry["DetailType"], self.max_event_bytes)
            entries.append(entry)
        failed: list[int] = []
        for start in range(0, len(entries), MAX_ENTRIES_PER_PUT):
            chunk = range(start, min(start + MAX_ENTRIES_PER_PUT, len(entries)))
            failed += self._put_positions(entries, chunk)
        if failed:
            raise PublishError(
                f"PutEvents still failed for {len(failed)} of {len(entries)} entries after "
                f"{self.max_attempts} attempts (error codes: {', '.join(self.last_error_codes)}); "
                "the record will be retried"
            )

    def put_groups(
        self, groups: Sequence[Sequence[WireEvent]], details: Mapping[str, str] | None = None
    ) -> GroupOutcome:
        """Publish the events of several records together, 10 entries per call across records.

        A group with an envelope over the size limit is not sent at all (`too_large`); groups
        with entries still failing after every retry are `failed`; the rest are fully published.
        `details` maps event ids to their already encoded `Detail` (saves encoding them again).
        """
        trace_header = current_trace_header()
        entries: list[dict[str, Any]] = []
        owners: list[int] = []
        outcome = GroupOutcome()
        known = details or {}
        for index, group in enumerate(groups):
            group_entries = [
                to_entry(wire, self.bus, trace_header, known.get(wire["id"])) for wire in group
            ]
            try:
                for entry in group_entries:
                    check_size(entry["Detail"], entry["DetailType"], self.max_event_bytes)
            except EventTooLargeError as exc:
                outcome.too_large[index] = exc
                continue
            entries += group_entries
            owners += [index] * len(group_entries)
        failed: set[int] = set()
        for start in range(0, len(entries), MAX_ENTRIES_PER_PUT):
            chunk = range(start, min(start + MAX_ENTRIES_PER_PUT, len(entries)))
            failed.update(owners[position] for position in self._put_positions(entries, chunk))
        outcome.failed = sorted(failed)
        return outcome

    def put(self, envelopes: Iterable[EventEnvelope]) -> None:
        """Publish envelopes."""
        self.put_wire([e.to_wire() for e in envelopes])

    def _call(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        put = self._put_events or clients.client("events").put_events
        return put(Entries=entries)

    def _put_positions(self, entries: list[dict[str, Any]], positions: Iterable[int]) -> list[int]:
        """Put `entries[p]` for p in `positions` (at most 10), retrying failed entries with
        backoff; return the positions still failing after `max_attempts`."""
        pending = list(positions)
        delay = self.backoff_seconds
        for attempt in range(1, self.max_attempts + 1):
            response = self._call([entries[p] for p in pending])
            if not response.get("FailedEntryCount"):
                return []
            results = response.get("Entries", [])
            failed = [p for p, r in zip(pending, results, strict=False) if r.get("ErrorCode")]
            self.last_error_codes = sorted(
                {str(r.get("ErrorCode")) for r in results if r.get("ErrorCode")}
            )
            pending = failed or pending
            if attempt < self.max_attempts:
                self._sleep(delay)
                delay *= 2
        return pending


class EventPublisher:
    """Publish events from code outside Lambda (an API, a script) with the same rules.

    Every call starts or continues one workflow: pass `correlation_id` to continue one. Payloads
    are checked against the registry like a handler's (`validate_payload`, default: the
    registry's check for publishers, when the registry module is present and configured).
    """

    def __init__(
        self,
        source: str,
        *,
        bus: str | None = None,
        validate_payload: Callable[[str, Any], None] | None = None,
        **publisher_options: Any,
    ) -> None:
        self.source = source
        self._publisher = EventBridgePublisher(bus, **publisher_options)
        self._validate_payload = validate_payload
        self._validator_resolved = validate_payload is not None

    @property
    def validate_payload(self) -> Callable[[str, Any], None] | None:
        """The payload check applied before publishing (resolved on first use), or None."""
        if not self._validator_resolved:
            self._validate_payload = _publisher_validator()
            self._validator_resolved = True
        return self._validate_payload

    def publish(
        self, topic: Any, event_type: str, data: Any = None, **attributes: Any
    ) -> EventEnvelope:
        """Build, validate and publish one envelope; return it (its `id` and `correlation_id`).

        Raises `SchemaValidationError` (nothing is put) when `data` breaks the event's schema.
        """
        envelope = EventEnvelope(
            source=self.source, type=event_type, topic=topic, data=data, **attributes
        )
        validate = self.validate_payload
        if validate is not None and not is_failure_reply(envelope.data):
            validate(envelope.type, envelope.data)
        self._publisher.put([envelope])
        return envelope

    def publish_envelopes(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Publish ready-made envelopes, in batches of at most 10, after checking every payload
        (a `SchemaValidationError` puts none of them)."""
        validate = self.validate_payload
        if validate is not None:
            for envelope in envelopes:
                if not is_failure_reply(envelope.data):
                    validate(envelope.type, envelope.data)
        self._publisher.put(envelopes)


def _publisher_validator() -> Callable[[str, Any], None] | None:
    """The registry's payload check for publishers, when the registry module provides one."""
    try:
        from soorma.registry.validation import validator_for_publisher
    except ImportError:
        return None
    validator: Callable[[str, Any], None] | None = validator_for_publisher()
    return validator
