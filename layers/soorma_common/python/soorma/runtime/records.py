"""SQS record -> EventBridge event -> `EventEnvelope`, with checks that make a record permanent."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from soorma_common.envelope import EventEnvelope
from soorma_common.errors import ForgedSourceError, MalformedRecordError

#: The SQS message attribute a redrive sets on a dead letter it sends back to its queue.
REDRIVEN_ATTRIBUTE = "SoormaRedriven"


@dataclass(slots=True)
class DeliveredEvent:
    """One event as it reached an agent: the SQS message, the EventBridge event, the envelope."""

    message_id: str
    queue_arn: str
    receive_count: int
    eventbridge: dict[str, Any]
    envelope: EventEnvelope
    #: Whether the message says it was sent back from a DLQ (the `SoormaRedriven` message
    #: attribute a redrive sets).
    redriven: bool = False

    def age_seconds(self, now: float | None = None) -> float | None:
        """Seconds since EventBridge took the event (its `time`), or None when it has none."""
        stamp = self.eventbridge.get("time")
        if not isinstance(stamp, str):
            return None
        try:
            taken = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        if taken.tzinfo is None:
            taken = taken.replace(tzinfo=UTC)
        return (time.time() if now is None else now) - taken.timestamp()

    @property
    def replay_name(self) -> str | None:
        """The EventBridge replay of this delivery (a replay is handled again, on purpose)."""
        value = self.eventbridge.get("replay-name")
        return str(value) if value else None


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
    eventbridge = parse_eventbridge_body(body)
    detail = eventbridge["detail"]
    if isinstance(detail, dict) and "time" not in detail and eventbridge.get("time"):
        # `time` is optional on the wire; EventBridge's own time keeps every redelivery of the
        # event identical (a clock read here would differ per delivery).
        detail = {**detail, "time": eventbridge["time"]}
    envelope = EventEnvelope.from_wire(detail)
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


def records_of(event: Any) -> list[dict[str, Any]]:
    """The records of a Lambda SQS event; `ValueError` for anything else (as Powertools')."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError(
            "Invalid event format: expected a Lambda SQS event, a dict whose 'Records' is a list "
            f"of SQS records; got {type(event).__name__} {str(event)[:120]!r}"
        )
    return records
