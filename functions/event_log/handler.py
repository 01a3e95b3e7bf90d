"""The platform's event log: every event on the bus, stored by correlation id (what `trace` reads).

Subscribed with `"*"` to all 8 topics, replies and its own events included. Each envelope becomes
one item of the events table:

| attribute | value |
|---|---|
| `pk` | `CORR#<correlation_id>` |
| `sk` | `EVENT#<time>#<event_id>`: UTC time, fixed width, so queries come in time order |
| `event_id`, `event_type`, `topic`, `source`, `causation_id` | from the envelope (for filters) |
| `tenant_id`, `user_id` | from the envelope when it names them (what `EventLogEraser` erases by) |
| `envelope` | the envelope's wire JSON (compact, as `EventEnvelope.to_json` writes it) |
| `delivery.TTL_ATTRIBUTE` | TTL: now + `SOORMA_EVENT_LOG_TTL_SECONDS` (default 14 days) |

Writing is naturally idempotent (a redelivered event overwrites its own item), so this function
runs without the exactly-once claim, and writes each SQS batch with one BatchWriteItem.

The sort key's time is `%Y-%m-%dT%H:%M:%S.%fZ` (`soorma.event_log.sort_key`): the wire's own
(`...:00Z` on a whole second, `...:00.250000Z` otherwise) sorted a whole second after the rest
of it. Items written before keep their keys until their TTL; the reader orders both.

One BatchWriteItem fails whole when one of its items breaks a DynamoDB limit, so each record's
item is built and checked alone first: a record that cannot be parsed, whose data cannot be
written back (nested past the serialiser's depth), whose partition key is over 2,048 bytes or
sort key over 1,024 bytes, or whose item is over 400 KB (the envelope re-serialised, plus the
ids copied beside it) goes to the DLQ at once as a permanent error; the batch's other records
are stored.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from soorma import Agent
from soorma.agent_spec import HandlerSpec
from soorma.dynamodb_items import ITEM_LIMIT_BYTES, item_size
from soorma.event_log import (
    MAX_PARTITION_KEY_BYTES,
    MAX_SORT_KEY_BYTES,
    partition_key,
    sort_key,
)
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.envelope import EventEnvelope, encode_wire
from soorma_common.errors import UnloggableEventError
from soorma_common.manifest import AgentKind, Subscription
from soorma_common.topics import EventTopic

EVENT_LOG_AGENT = "event-log"
DEFAULT_TTL_SECONDS = 14 * 24 * 3600


def log_item(envelope: EventEnvelope, now: float, ttl: int = DEFAULT_TTL_SECONDS) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) that records one envelope.

    Raises `UnloggableEventError` when DynamoDB would refuse it (a key or the item over its
    limits) or the envelope's data cannot be written as JSON.
    """
    pk, sk = partition_key(envelope.correlation_id), sort_key(envelope.time, envelope.id)
    _check_key("partition key", "correlation id", envelope.id, pk, MAX_PARTITION_KEY_BYTES)
    _check_key("sort key", "id", envelope.id, sk, MAX_SORT_KEY_BYTES)
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "event_id": {"S": envelope.id},
        "event_type": {"S": envelope.type},
        "topic": {"S": envelope.topic.value},
        "source": {"S": envelope.source},
        "envelope": {"S": _wire_json(envelope)},
        TTL_ATTRIBUTE: {"N": str(int(now) + ttl)},
    }
    for name, value in (
        ("causation_id", envelope.causation_id),
        ("tenant_id", envelope.tenant_id),
        ("user_id", envelope.user_id),
    ):
        if value:
            item[name] = {"S": value}
    _check_item_size(envelope.id, item)
    return item


def _check_key(key: str, attribute: str, event_id: str, value: str, limit: int) -> None:
    with _unicode_only(event_id):
        size = len(value.encode())
    if size > limit:
        raise UnloggableEventError(
            f"event {event_id[:80]!r} cannot be logged: its {key} would be {size:,} bytes, over "
            f"DynamoDB's limit of {limit:,} bytes; keep the envelope's {attribute} shorter"
        )


@contextmanager
def _unicode_only(event_id: str) -> Iterator[None]:
    """Turn text UTF-8 cannot hold (a lone surrogate) into `UnloggableEventError`."""
    try:
        yield
    except UnicodeEncodeError as exc:
        raise UnloggableEventError(
            f"event {event_id[:80]!r} cannot be logged: its text is not valid Unicode ({exc}); "
            "send UTF-8 text only (no lone surrogates)"
        ) from exc


def _wire_json(envelope: EventEnvelope) -> str:
    """The envelope's compact wire JSON; `UnloggableEventError` when it cannot be written."""
    try:
        return encode_wire(envelope.to_wire())
    except (ValueError, RecursionError) as exc:
        raise UnloggableEventError(
            f"event {envelope.id[:80]!r} cannot be logged: its envelope cannot be written back as "
            f"JSON ({str(exc)[:200]}); keep data nested at most 255 levels deep (the serialiser's "
            "limit) and JSON-serialisable"
        ) from exc


def _check_item_size(event_id: str, item: dict[str, Any]) -> None:
    with _unicode_only(event_id):
        size = item_size(item)
    if size > ITEM_LIMIT_BYTES:
        wire = len(item["envelope"]["S"].encode())
        raise UnloggableEventError(
            f"event {event_id[:80]!r} cannot be logged: its item would be {size:,} bytes (the "
            f"envelope's wire JSON {wire:,} bytes, plus the ids and attributes stored beside it), "
            f"over DynamoDB's item limit of {ITEM_LIMIT_BYTES:,} bytes (400 KB); keep events "
            "small (large content in S3, a reference in the event)"
        )


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
            try:  # one record's bad envelope or item fails that record alone, never the batch
                item = log_item(parse_record(record).envelope, now, ttl)
            except PermanentError as exc:
                _dead_letters().send(record, exc)
                continue
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
