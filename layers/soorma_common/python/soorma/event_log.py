"""Reading the event log back: one workflow's stored events, by correlation id.

The event log (`functions/event_log/handler.py`) keeps every event on the bus as one item of the
events table: partition `CORR#<correlation_id>`, sort key `EVENT#<time>#<event_id>` (so a query
returns a workflow in time order), the envelope's wire JSON in `envelope`, and `tenant_id` /
`user_id` when the envelope names them. This module is the one reader of that layout, used by
`soorma trace` (the dev tools) and by the front door's `GET /workflows/{correlation_id}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from soorma_common.envelope import EventEnvelope

PARTITION_PREFIX = "CORR#"
SORT_PREFIX = "EVENT#"


def partition_key(correlation_id: str) -> str:
    """The partition of one workflow's events."""
    return f"{PARTITION_PREFIX}{correlation_id}"


def logged_items(
    dynamodb: Any,
    table: str,
    correlation_id: str,
    *,
    tenant_id: str | None = None,
    consistent: bool = True,
) -> Iterator[dict[str, Any]]:
    """The raw items (low-level attribute values) stored for one correlation id, in time order.

    With `tenant_id`, only the items whose stored `tenant_id` is that tenant (a DynamoDB filter:
    items of other tenants, or of none, are read but never returned).
    """
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
        "ExpressionAttributeValues": {
            ":pk": {"S": partition_key(correlation_id)},
            ":sk": {"S": SORT_PREFIX},
        },
        "ConsistentRead": consistent,
    }
    if tenant_id is not None:
        request["FilterExpression"] = "tenant_id = :tenant"
        request["ExpressionAttributeValues"][":tenant"] = {"S": tenant_id}
    for page in dynamodb.get_paginator("query").paginate(**request):
        yield from page.get("Items", [])


def logged_envelopes(
    dynamodb: Any, table: str, correlation_id: str, *, tenant_id: str | None = None
) -> list[EventEnvelope]:
    """Every envelope the event log stored for one correlation id (of one tenant, when
    `tenant_id` is given), in time order, each once."""
    envelopes: dict[str, EventEnvelope] = {}
    for item in logged_items(dynamodb, table, correlation_id, tenant_id=tenant_id):
        envelope = EventEnvelope.from_json(item["envelope"]["S"])
        envelopes.setdefault(envelope.id, envelope)
    return list(envelopes.values())
