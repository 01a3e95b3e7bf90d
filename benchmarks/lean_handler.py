"""The lean baseline: what an expert would hand-write for the same semantics as a Soorma agent.

Per record: parse the SQS body (an EventBridge event) as JSON, validate the wire fields it
needs with a small pydantic model, `WireEvent` (`specversion`, `id`, `type`, a known `topic`,
`source`, a correlation id; tenant and user when present), check that `source` is the
EventBridge source, one log line with the correlation id, dispatch by type, Powertools
idempotency on the envelope id (the handler's outgoing events stored with the completed record,
so a redelivery publishes the same events again). Per batch: one PutEvents per 10 entries, after
every record is handled; a record whose handler failed, or whose events PutEvents refused, is
reported in the partial batch response. Outgoing events are written as wire dicts directly (no
model).

That is the issue's baseline ("a model of the fields the wire requires, one PutEvents per batch
of 10, the same idempotency"). `LEAN_WIRE_MODEL=off` in the environment (read at import; then
pydantic is never imported) or `use_wire_model(False)` checks the same fields by hand on the
parsed dict instead: the **no-model** baseline, leaner than the issue asks, reported beside it.
No `BatchProcessor`, no extra log keys: the least work that keeps the semantics.
`use_parse_first(True)` parses the whole batch before handling a record, as the Soorma runtime
does (a cache effect: docs/performance.md): reported beside the baseline, not instead of it.
`use_direct_claims(True)` swaps Powertools' `idempotent_function` for the hand-written direct
conditional claim of `lean_direct_claims.py` (same table layout): the leaner baseline.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, get_args

import boto3
import lean_direct_claims
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

AGENT = "lean"
SOURCE = f"soorma.{AGENT}"
BUS = os.environ.get("SOORMA_EVENT_BUS", "soorma-bench")
NAMESPACE = uuid.UUID("6f0b7c1e-2d0a-4a8e-9c53-50a1ec7a0b5e")
Topic = Literal[
    "action-requests",
    "action-results",
    "business-facts",
    "notification-events",
    "plan-events",
    "system-events",
    "task-events",
    "billing-events",
]
TOPICS = frozenset(get_args(Topic))

wire_model = os.environ.get("LEAN_WIRE_MODEL", "on") != "off"
if wire_model:
    from pydantic import BaseModel, ConfigDict, Field

    class WireEvent(BaseModel):
        """The fields of a Soorma envelope this handler relies on (others ignored)."""

        model_config = ConfigDict(frozen=True)

        specversion: Literal["1.0"]
        id: str = Field(min_length=1)
        source: str = Field(min_length=1)
        type: str = Field(min_length=1)
        topic: Topic
        correlationid: str = Field(min_length=1)
        data: Any = None
        tenantid: str | None = None
        userid: str | None = None


logger = Logger(service=AGENT)
events = boto3.client("events")
persistence = DynamoDBPersistenceLayer(
    table_name=os.environ.get("IDEMPOTENCY_TABLE", "bench-idempotency"), expiry_attr="expires_at"
)
config = IdempotencyConfig(expires_after_seconds=86400)
idempotency = True
direct_claims = False
parse_first = False
TABLE = os.environ.get("IDEMPOTENCY_TABLE", "bench-idempotency")


def use_stubs(dynamodb_client: Any, put_events: Any) -> None:
    """Point the handler at stubbed AWS (the benchmark's table and PutEvents)."""
    global events
    persistence.client = dynamodb_client
    events = put_events


def use_idempotency(enabled: bool) -> None:
    """Run each record's handler under a claim (True, the default) or directly."""
    global idempotency
    idempotency = enabled


def use_wire_model(enabled: bool) -> None:
    """Validate each envelope with `WireEvent` (True, the default) or check it by hand."""
    global wire_model
    wire_model = enabled


def use_parse_first(enabled: bool) -> None:
    """Parse every record of a batch before handling the first (True), as the Soorma runtime
    does, or each in its turn (False, the default: the usual loop)."""
    global parse_first
    parse_first = enabled


def use_direct_claims(enabled: bool) -> None:
    """Claim with direct conditional writes (True) or Powertools' `idempotent_function`."""
    global direct_claims
    direct_claims = enabled


def on_order_placed(event: dict[str, Any], outbox: list[dict[str, Any]]) -> None:
    logger.info("order handled", extra={"order": event["data"]["order"]})
    outgoing = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(NAMESPACE, f"{AGENT}#{event['id']}#{len(outbox)}")),
        "source": SOURCE,
        "type": "order.seen",
        "topic": "business-facts",
        "datacontenttype": "application/json",
        "data": {"order": event["data"]["order"]},
        "correlationid": event["correlationid"],
        "causationid": event["id"],
    }
    for key in ("tenantid", "userid"):
        if event.get(key) is not None:
            outgoing[key] = event[key]
    outbox.append(outgoing)


HANDLERS: dict[str, Callable[[dict[str, Any], list[dict[str, Any]]], None]] = {
    "order.placed": on_order_placed,
}


def run_handler(claim: dict[str, str], event: dict[str, Any]) -> list[dict[str, Any]]:
    outbox: list[dict[str, Any]] = []
    HANDLERS[event["type"]](event, outbox)
    return outbox


handle_once = idempotent_function(
    data_keyword_argument="claim", persistence_store=persistence, config=config
)(run_handler)


def wire_event(body: str) -> dict[str, Any]:
    """The envelope of one SQS record, with the fields this handler relies on checked."""
    outer = json.loads(body)
    if wire_model:
        model = WireEvent.model_validate(outer["detail"])
        if model.source != outer.get("source"):
            raise ValueError(f"forged source {model.source!r} != {outer.get('source')!r}")
        return model.__dict__  # the validated fields, read by name as the handler does
    event: dict[str, Any] = outer["detail"]
    if event.get("specversion") != "1.0" or event.get("topic") not in TOPICS:
        raise ValueError(f"not a Soorma envelope: {str(event)[:200]}")
    if event.get("source") != outer.get("source"):
        raise ValueError(f"forged source {event.get('source')!r} != {outer.get('source')!r}")
    if not (event.get("id") and event.get("type") and event.get("correlationid")):
        raise ValueError("envelope lacks id, type or correlationid")
    return event


def _parsed(body: str) -> dict[str, Any] | Exception:
    try:
        return wire_event(body)
    except Exception as exc:
        return exc


def _given(parsed: dict[str, Any] | Exception) -> dict[str, Any]:
    if isinstance(parsed, Exception):
        raise parsed
    return parsed


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config.register_lambda_context(context)
    failed: list[str] = []
    entries: list[tuple[str, dict[str, Any]]] = []  # (message id, PutEvents entry)
    records = event["Records"]
    early = [_parsed(record["body"]) for record in records] if parse_first else None
    for index, record in enumerate(records):
        try:
            envelope = wire_event(record["body"]) if early is None else _given(early[index])
            logger.set_correlation_id(envelope["correlationid"])
            claim = {"key": f"{AGENT}#{envelope['id']}"}
            if idempotency and direct_claims:
                outgoing = lean_direct_claims.run_once(
                    persistence.client,
                    TABLE,
                    claim["key"],
                    context.get_remaining_time_in_millis(),
                    partial(run_handler, claim, envelope),
                )
            elif idempotency:
                outgoing = handle_once(claim=claim, event=envelope)
            else:
                outgoing = run_handler(claim, envelope)
        except Exception:
            logger.exception("record failed")
            failed.append(record["messageId"])
            continue
        for e in outgoing:
            entry = {"Source": SOURCE, "DetailType": e["type"], "Detail": json.dumps(e)}
            entries.append((record["messageId"], {**entry, "EventBusName": BUS}))
    put = events.put_events if hasattr(events, "put_events") else events
    for start in range(0, len(entries), 10):
        chunk = entries[start : start + 10]
        response = put(Entries=[entry for _, entry in chunk])
        if response.get("FailedEntryCount"):
            for (message_id, _), result in zip(chunk, response["Entries"], strict=True):
                if "ErrorCode" in result and message_id not in failed:
                    failed.append(message_id)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
