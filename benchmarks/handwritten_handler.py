"""A hand-written Powertools handler doing the same work as a Soorma agent, written the way
AWS's Powertools documentation shows (clients and utilities built at module level):

parse SQS + EventBridge, validate the envelope with pydantic, check the source, one log line
with the correlation id per record, dispatch by type, Powertools idempotency (the handler's
outgoing events stored with the completed record), buffered publish in batches of 10.

The envelope validated (incoming) and built (outgoing) is the platform's wire contract,
`soorma_common.envelope.EventEnvelope` (a pydantic model, pydantic its only dependency): what is
on the wire is that envelope with all its attributes, so a hand-written handler for this
platform validates that same model. (An earlier baseline used a 12-attribute model of its own,
which checked less than the wire contract requires.)
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from soorma_common.envelope import EventEnvelope as Envelope

AGENT = "handwritten"
SOURCE = f"soorma.{AGENT}"
BUS = os.environ.get("SOORMA_EVENT_BUS", "soorma-bench")
NAMESPACE = uuid.UUID("6f0b7c1e-2d0a-4a8e-9c53-50a1ec7a0b5e")

logger = Logger(service=AGENT)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
events = boto3.client("events")
persistence = DynamoDBPersistenceLayer(
    table_name=os.environ.get("IDEMPOTENCY_TABLE", "bench-idempotency"), expiry_attr="expires_at"
)
config = IdempotencyConfig(expires_after_seconds=86400)


def use_stubs(dynamodb_client: Any, put_events: Any) -> None:
    """Point the handler at stubbed AWS (the benchmark's table and PutEvents)."""
    global events
    persistence.client = dynamodb_client
    events = put_events


def on_order_placed(envelope: Envelope, outbox: list[Envelope]) -> None:
    logger.info("order handled", extra={"order": envelope.data["order"]})
    outbox.append(
        Envelope(
            id=str(uuid.uuid5(NAMESPACE, f"{AGENT}#{envelope.id}#{len(outbox)}")),
            source=SOURCE,
            type="order.seen",
            topic="business-facts",
            data={"order": envelope.data["order"]},
            correlationid=envelope.correlation_id,
            causationid=envelope.id,
            tenantid=envelope.tenant_id,
            userid=envelope.user_id,
        )
    )


HANDLERS = {"order.placed": on_order_placed}


@idempotent_function(data_keyword_argument="claim", persistence_store=persistence, config=config)
def handle_once(claim: dict[str, str], envelope: Envelope) -> list[dict[str, Any]]:
    outbox: list[Envelope] = []
    HANDLERS[envelope.type](envelope, outbox)
    return [e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in outbox]


def publish(outgoing: list[dict[str, Any]]) -> None:
    entries = [
        {
            "Source": e["source"],
            "DetailType": e["type"],
            "Detail": json.dumps(e),
            "EventBusName": BUS,
        }
        for e in outgoing
    ]
    for start in range(0, len(entries), 10):
        put = events.put_events if hasattr(events, "put_events") else events
        response = put(Entries=entries[start : start + 10])
        if response.get("FailedEntryCount"):
            raise RuntimeError("PutEvents failed entries")


def record_handler(record: Any) -> None:
    body = json.loads(record.body)
    envelope = Envelope.model_validate(body["detail"])
    if envelope.source != body["source"]:
        raise ValueError("forged source")
    logger.set_correlation_id(envelope.correlation_id)
    logger.append_keys(
        event_id=envelope.id,
        event_type=envelope.type,
        topic=envelope.topic,
        tenant_id=envelope.tenant_id,
    )
    publish(handle_once(claim={"key": f"{AGENT}#{envelope.id}"}, envelope=envelope))


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
