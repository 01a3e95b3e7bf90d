"""Reading a workflow back: the event log's items (by correlation id) plus the activity lines,
as a causation tree.

The key design is the event log's (`functions/event_log/handler.py`, docs/local-cloud.md):
partition `CORR#<correlation_id>`, sort key `EVENT#<time>#<event_id>`, envelope JSON in
`envelope`.
"""

from __future__ import annotations

from typing import Any

from soorma_common.envelope import EventEnvelope
from soorma_dev.localcloud.models import ActivityLine, Handling, TraceNode

PARTITION_PREFIX = "CORR#"
SORT_PREFIX = "EVENT#"


def logged_envelopes(dynamodb: Any, table: str, correlation_id: str) -> list[EventEnvelope]:
    """Every envelope the event log stored for one correlation id, in time order."""
    envelopes: dict[str, EventEnvelope] = {}
    paginator = dynamodb.get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={
            ":pk": {"S": f"{PARTITION_PREFIX}{correlation_id}"},
            ":sk": {"S": SORT_PREFIX},
        },
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            envelope = EventEnvelope.from_json(item["envelope"]["S"])
            envelopes.setdefault(envelope.id, envelope)
    return list(envelopes.values())


def build_tree(envelopes: list[EventEnvelope], activity: list[ActivityLine]) -> list[TraceNode]:
    """The roots of the causation tree, each node with its handlings; children in time order.

    An event whose cause is not in the list (the entry event, or one whose cause expired) is a
    root.
    """
    nodes = {e.id: TraceNode(envelope=e) for e in sorted(envelopes, key=lambda e: e.time)}
    for line in activity:
        node = nodes.get(line.event_id or "")
        if node is not None:
            node.handled.append(Handling(line.agent, line.outcome, line.time, line.reason))
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.envelope.causation_id or "")
        if parent is None or parent is node:
            roots.append(node)
        else:
            parent.children.append(node)
    return roots
