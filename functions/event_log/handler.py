"""The platform's event log: every event on the bus, stored by correlation id (what `trace` reads).

Subscribed with `"*"` to all 8 topics, replies and its own events included. Each envelope becomes
one item of the events table:

| attribute | value |
|---|---|
| `pk` | `CORR#<correlation_id>` |
| `sk` | `EVENT#<time>#<event_id>` (the envelope's ISO 8601 UTC time: queries come in time order) |
| `event_id`, `event_type`, `topic`, `source`, `causation_id` | from the envelope (for filters) |
| `tenant_id`, `user_id` | from the envelope when it names them (what `EventLogEraser` erases by) |
| `envelope` | the envelope's wire JSON |
| `delivery.TTL_ATTRIBUTE` | TTL: now + `SOORMA_EVENT_LOG_TTL_SECONDS` (default 14 days) |

Writing is naturally idempotent (a redelivered event overwrites its own item), so this function
runs without the exactly-once claim, and writes each SQS batch with one BatchWriteItem.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from soorma import Agent
from soorma.agent_spec import HandlerSpec
from soorma.event_log import SORT_PREFIX, partition_key
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentKind, Subscription
from soorma_common.topics import EventTopic

EVENT_LOG_AGENT = "event-log"
DEFAULT_TTL_SECONDS = 14 * 24 * 3600


def sort_key(envelope: EventEnvelope) -> str:
    """The sort key of one event: time first, so a query returns the workflow in order."""
    return f"{SORT_PREFIX}{envelope.to_wire()['time']}#{envelope.id}"


def log_item(envelope: EventEnvelope, now: float, ttl: int = DEFAULT_TTL_SECONDS) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) that records one envelope."""
    item: dict[str, Any] = {
        "pk": {"S": partition_key(envelope.correlation_id)},
        "sk": {"S": sort_key(envelope)},
        "event_id": {"S": envelope.id},
        "event_type": {"S": envelope.type},
        "topic": {"S": envelope.topic.value},
        "source": {"S": envelope.source},
        "envelope": {"S": envelope.to_json()},
        TTL_ATTRIBUTE: {"N": str(int(now) + ttl)},
    }
    for name, value in (
        ("causation_id", envelope.causation_id),
        ("tenant_id", envelope.tenant_id),
        ("user_id", envelope.user_id),
    ):
        if value:
            item[name] = {"S": value}
    return item


class EventLog(Agent):
    """The platform agent that records every event.

    Its subscriptions make its rules (all 8 topics, `"*"`); its Lambda handler writes a whole SQS
    batch with one BatchWriteItem instead of running a handler per record: the log write is
    idempotent by key, so it needs no exactly-once claim, and one call per batch is what keeps
    the log cheap next to the agents it records.
    """

    kind = AgentKind.PLATFORM

    def lambda_handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Store every record of the batch; report the records that could not be stored."""
        from soorma.config import settings
        from soorma.runtime.records import parse_record
        from soorma_common.errors import PermanentError

        now, ttl = time.time(), settings().event_log_ttl_seconds
        items: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for record in event.get("Records", []):
            try:
                envelope = parse_record(record).envelope
            except PermanentError as exc:
                _dead_letters().send(record, exc)
                continue
            item = log_item(envelope, now, ttl)
            items[(item["pk"]["S"], item["sk"]["S"])] = (str(record["messageId"]), item)
        failed = write_items(list(items.values()))
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


@functools.lru_cache(maxsize=1)
def _dead_letters() -> Any:
    from soorma.runtime.dead_letters import DeadLetterSender

    return DeadLetterSender()


def write_items(items: list[tuple[str, dict[str, Any]]], attempts: int = 3) -> list[str]:
    """BatchWriteItem the items (25 per call), retrying unprocessed ones; return the message
    ids of items still not written."""
    from soorma import clients
    from soorma.config import settings

    table = settings().events_table
    if not table:
        raise RuntimeError("SOORMA_EVENTS_TABLE is not set: the event log has nowhere to write")
    dynamodb = clients.client("dynamodb")
    owner = {id(item): message_id for message_id, item in items}
    pending = [item for _, item in items]
    for attempt in range(attempts):
        unprocessed: list[dict[str, Any]] = []
        for start in range(0, len(pending), 25):
            chunk = pending[start : start + 25]
            response = dynamodb.batch_write_item(
                RequestItems={table: [{"PutRequest": {"Item": item}} for item in chunk]}
            )
            left = response.get("UnprocessedItems", {}).get(table, [])
            keys = {
                (r["PutRequest"]["Item"]["pk"]["S"], r["PutRequest"]["Item"]["sk"]["S"])
                for r in left
            }
            unprocessed += [i for i in chunk if (i["pk"]["S"], i["sk"]["S"]) in keys]
        pending = unprocessed
        if not pending:
            return []
        time.sleep(0.05 * 2**attempt)
    return [owner[id(item)] for item in pending]


event_log = EventLog(
    EVENT_LOG_AGENT, description="Stores every event by correlation id", events_produced=[]
)


def record(event: EventEnvelope, context: Any) -> None:
    """Subscribe to every event (the batch handler above does the writing)."""


# Every event of every topic: `include_replies` because a plain subscription receives no reply
# addressed to another agent, `include_own_events` because a wildcard does not receive the
# agent's own events (soorma_common.routing); the log wants both.
for _topic in EventTopic:
    event_log.handlers.append(
        HandlerSpec(
            Subscription(
                topic=_topic, event_type="*", include_replies=True, include_own_events=True
            ),
            record,
        )
    )

handler = event_log.lambda_handler
