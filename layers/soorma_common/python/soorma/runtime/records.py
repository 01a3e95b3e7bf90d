"""SQS record -> EventBridge event -> `EventEnvelope`, with checks that make a record permanent."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from soorma_common.attributes import is_plain_json
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import ForgedSourceError, MalformedRecordError

#: The attributes of an EventBridge event a `DeliveredEvent` keeps (its `detail` aside).
EVENTBRIDGE_ATTRIBUTES = ("source", "detail-type", "time", "replay-name")
#: The SQS message attribute a redrive sets on a dead letter it sends back to its queue.
REDRIVEN_ATTRIBUTE = "SoormaRedriven"


@dataclass(slots=True)
class DeliveredEvent:
    """One event as it reached an agent: the SQS message, the EventBridge event, the envelope."""

    message_id: str
    queue_arn: str
    receive_count: int
    #: The EventBridge event's attributes the runtime reads (`EVENTBRIDGE_ATTRIBUTES`, those
    #: present): its `detail` is `envelope`.
    eventbridge: dict[str, Any]
    envelope: EventEnvelope
    #: Whether the message says it was sent back from a DLQ (the `SoormaRedriven` message
    #: attribute a redrive sets).
    redriven: bool = False

    def age_seconds(self, now: float | None = None) -> float | None:
        """Seconds since EventBridge took the event (its `time`), or None when it has none."""
        stamp = self.eventbridge.get("time")
        taken = _put_time(stamp) if isinstance(stamp, str) else None
        if taken is None:
            return None
        return (time.time() if now is None else now) - taken

    @property
    def replay_name(self) -> str | None:
        """The EventBridge replay of this delivery (a replay is handled again, on purpose)."""
        value = self.eventbridge.get("replay-name")
        return str(value) if value else None


@lru_cache(maxsize=64)  # the records of a batch were mostly put within the same second
def _put_time(stamp: str) -> float | None:
    """EventBridge's `time` as a POSIX timestamp (no zone: UTC), None when it is not one."""
    try:
        taken = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if taken.tzinfo is None:
        taken = taken.replace(tzinfo=UTC)
    return taken.timestamp()


def parse_eventbridge_body(body: str) -> dict[str, Any]:
    """Parse an SQS body written by an EventBridge rule target (with or without `account`)."""
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise MalformedRecordError(
            f"SQS body is not JSON ({exc}); expected an EventBridge event: {body[:120]!r}"
        ) from None
    except RecursionError:
        raise MalformedRecordError(
            "SQS body nests deeper than JSON parsing takes (Python's recursion limit): "
            f"{body[:120]!r}"
        ) from None
    if not isinstance(event, dict):
        raise MalformedRecordError(
            f"SQS body is JSON {type(event).__name__}, not an EventBridge event"
        )
    if "source" not in event or "detail-type" not in event or "detail" not in event:
        missing = [k for k in ("source", "detail-type", "detail") if k not in event]
        raise MalformedRecordError(
            f"SQS body is not an EventBridge event: missing {', '.join(missing)} "
            f"(keys: {sorted(event)[:10]!a})"
        )
    return event


def parse_record(record: dict[str, Any]) -> DeliveredEvent:
    """Parse one raw SQS record of a Lambda event; raise a permanent error if it cannot be."""
    body = record.get("body")
    if not isinstance(body, str):
        raise MalformedRecordError("SQS record has no string body")
    eventbridge, envelope = _parsed_in_one_pass(body) or _parsed_in_steps(body)
    if envelope.source != eventbridge["source"]:
        raise ForgedSourceError(
            f"envelope {envelope.id!r} claims source {envelope.source!r} but was put on the bus "
            f"by {eventbridge['source']!r}; an agent may only publish as itself"
        )
    if envelope.type != eventbridge["detail-type"]:
        raise MalformedRecordError(
            f"envelope {envelope.id!r} has type {envelope.type!r} but EventBridge detail-type "
            f"{eventbridge['detail-type']!r}; producers must set DetailType to the envelope type"
        )
    attributes = record.get("attributes") or {}
    receive_count = int(attributes.get("ApproximateReceiveCount", "1"))
    redriven = REDRIVEN_ATTRIBUTE in (record.get("messageAttributes") or {})
    return DeliveredEvent(
        message_id=str(record.get("messageId", "")),
        queue_arn=str(record.get("eventSourceARN", "")),
        receive_count=receive_count,
        eventbridge=eventbridge,
        envelope=envelope,
        redriven=redriven,
    )


#: A record as `parse_each` gives it: parsed, or the error parsing it raised.
ParsedRecord = DeliveredEvent | Exception


def parse_each(records: list[dict[str, Any]]) -> list[ParsedRecord]:
    """Each record of a batch parsed, or the error parsing it raised, in order.

    The batch loop parses every record before it handles the first: the validator's code and
    data stay in the CPU's caches across the batch instead of being evicted by each record's
    handler and claim (≈ 10 % of the per-event time, docs/performance.md). A record's error is
    kept for its turn, so it is reported (dead-lettered, or failed and retried) where it was.
    """
    parsed: list[ParsedRecord] = []
    for record in records:
        try:
            parsed.append(parse_record(record))
        except Exception as exc:  # raised again in the record's turn
            parsed.append(exc)
    return parsed


def records_of(event: Any) -> list[dict[str, Any]]:
    """The records of a Lambda SQS event; `ValueError` for anything else (as Powertools')."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError(
            "Invalid event format: expected a Lambda SQS event, a dict whose 'Records' is a list "
            f"of SQS records; got {type(event).__name__} {str(event)[:120]!r}"
        )
    return records


def _parsed_in_steps(body: str) -> tuple[dict[str, Any], EventEnvelope]:
    """The EventBridge event (its `detail` aside) and the envelope, each parsed and checked
    apart: what every body can take, with an error naming what is wrong."""
    event = parse_eventbridge_body(body)
    eventbridge = {name: event[name] for name in EVENTBRIDGE_ATTRIBUTES if name in event}
    detail = event["detail"]
    if isinstance(detail, dict) and detail.get("time") is None and eventbridge.get("time"):
        # `time` is optional on the wire (absent or null); EventBridge's own time keeps every
        # redelivery of the event identical (a clock read here would differ per delivery).
        detail = {**detail, "time": eventbridge["time"]}
    return eventbridge, EventEnvelope.from_wire(detail)


class _Delivery(BaseModel):
    """An EventBridge event as an SQS body, its envelope validated in the same pass over the
    JSON text (no intermediate dict of the envelope): `_parsed_in_one_pass`."""

    source: Any
    detail_type: Any = Field(alias="detail-type")
    time: Any = None
    replay_name: Any = Field(default=None, alias="replay-name")
    detail: EventEnvelope


#: What `EventEnvelope.from_wire` needs on the wire before it takes an envelope as it is (it
#: fills in an absent `correlationid` and `time` itself).
_SET_ON_THE_WIRE = frozenset(
    {"id", "source", "specversion", "type", "topic", "correlation_id", "time"}
)


def _parsed_in_one_pass(body: str) -> tuple[dict[str, Any], EventEnvelope] | None:
    """`_parsed_in_steps(body)` for the usual body, in one validation of the JSON text; None
    for anything else (the steps then take it, or say what is wrong with it).

    Strict, so that what the model would coerce (a number for `time`) is left to the steps;
    the envelope is taken only when `from_wire` would take the same attributes as they are:
    every required one and `correlationid` and `time` present, no extension, no `null`
    `datacontenttype`, plain JSON `data` (not NaN or Infinity). tests/unit/test_records.py
    checks that both paths agree."""
    try:
        delivery = _Delivery.model_validate_json(body, strict=True)
    except ValidationError:
        return None
    envelope = delivery.detail
    if (
        not envelope.model_fields_set >= _SET_ON_THE_WIRE
        or envelope.__pydantic_extra__
        or envelope.datacontenttype is None
        or not is_plain_json(envelope.data)
    ):
        return None
    eventbridge = {"source": delivery.source, "detail-type": delivery.detail_type}
    if "time" in delivery.model_fields_set:
        eventbridge["time"] = delivery.time
    if "replay_name" in delivery.model_fields_set:
        eventbridge["replay-name"] = delivery.replay_name
    return eventbridge, envelope
