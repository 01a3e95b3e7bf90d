"""The platform's event log: every event on the bus, stored by correlation id (what `trace` reads).

Subscribed with `"*"` to all 8 topics. Each envelope becomes one item of the events table:

| attribute | value |
|---|---|
| `pk` | `CORR#<correlation_id>` |
| `sk` | `EVENT#<time>#<event_id>` (time = the envelope's ISO 8601 UTC time: a query is in time order) |
| `event_id`, `event_type`, `topic`, `source`, `causation_id` | from the envelope (for filters) |
| `envelope` | the envelope's wire JSON |
| `expires_at` | TTL: now + `SOORMA_EVENT_LOG_TTL_SECONDS` (default 14 days) |

Writing is naturally idempotent (a redelivered event overwrites its own item), so this function
runs without the exactly-once claim: one DynamoDB write per event instead of three.
"""

from __future__ import annotations

import os
import time
from typing import Any

from soorma import Agent
from soorma.runtime.handler import LambdaRuntime
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentKind
from soorma_common.topics import EventTopic

EVENT_LOG_AGENT = "event-log"
PARTITION_PREFIX = "CORR#"
SORT_PREFIX = "EVENT#"
DEFAULT_TTL_SECONDS = 14 * 24 * 3600


def partition_key(correlation_id: str) -> str:
    """The partition of one workflow's events."""
    return f"{PARTITION_PREFIX}{correlation_id}"


def sort_key(envelope: EventEnvelope) -> str:
    """The sort key of one event: time first, so a query returns the workflow in order."""
    return f"{SORT_PREFIX}{envelope.to_wire()['time']}#{envelope.id}"


def log_item(envelope: EventEnvelope, now: float) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) that records one envelope."""
    ttl = int(os.environ.get("SOORMA_EVENT_LOG_TTL_SECONDS", DEFAULT_TTL_SECONDS))
    item: dict[str, Any] = {
        "pk": {"S": partition_key(envelope.correlation_id)},
        "sk": {"S": sort_key(envelope)},
        "event_id": {"S": envelope.id},
        "event_type": {"S": envelope.type},
        "topic": {"S": envelope.topic.value},
        "source": {"S": envelope.source},
        "envelope": {"S": envelope.to_json()},
        "expires_at": {"N": str(int(now) + ttl)},
    }
    if envelope.causation_id:
        item["causation_id"] = {"S": envelope.causation_id}
    return item


class EventLog(Agent):
    """The platform agent that records every event; its runtime makes no exactly-once claims."""

    kind = AgentKind.PLATFORM

    @property
    def runtime(self) -> Any:
        """A `LambdaRuntime` without claims (the log write is idempotent by key)."""
        if self._runtime is None:
            self._runtime = LambdaRuntime(self, claims=None)
        return self._runtime


event_log = EventLog(
    EVENT_LOG_AGENT, description="Stores every event by correlation id", events_produced=[]
)


def record(event: EventEnvelope, context: Any) -> None:
    """Store one envelope in the events table."""
    from soorma import clients
    from soorma.config import settings

    table = settings().events_table
    if not table:
        raise RuntimeError("SOORMA_EVENTS_TABLE is not set: the event log has nowhere to write")
    clients.client("dynamodb").put_item(TableName=table, Item=log_item(event, time.time()))


for _topic in EventTopic:
    event_log.on_event("*", topic=_topic)(record)

handler = event_log.lambda_handler
