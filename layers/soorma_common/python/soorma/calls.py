"""Waiting for a reply outside Lambda: `EventPublisher.call` (scripts, the HTTP API).

Handlers never wait (they continue in `on_result`); a script may. `call` publishes a request and
reads the platform's event log, which records every event on the bus by correlation id
(`functions/event_log`), until the reply to that request is there: an event of the request's
`response_event` whose `causation_id` is the request's id. One strongly consistent Query of the
workflow's partition per poll (½ read unit per 4 KB of the workflow's events), polling every
0.2 s doubling to 2 s, until `timeout`. Nothing is consumed: the requester's agent (if any)
receives the reply too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from soorma import clients
from soorma.config import settings
from soorma.event_log import partition_key
from soorma_common.envelope import EventEnvelope


class CallTimeoutError(TimeoutError):
    """No reply to a `call` within its timeout (the request was published; a reply may still
    come: look for it with `soorma trace <correlation id>`)."""

    def __init__(self, message: str, request: EventEnvelope) -> None:
        super().__init__(message)
        self.request = request


class EventLogReader:
    """Finds the reply to a request in the event log table (`SOORMA_EVENTS_TABLE`)."""

    def __init__(self, table: str | None = None, *, dynamodb: Any = None) -> None:
        self.table = table or settings().events_table
        if not self.table:
            raise RuntimeError(
                "SOORMA_EVENTS_TABLE is not set: call() reads replies from the event log"
            )
        self._dynamodb = dynamodb

    def reply_to(self, request: EventEnvelope) -> EventEnvelope | None:
        """The reply to `request` logged so far, or None."""
        client = self._dynamodb or clients.client("dynamodb")
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "causation_id = :request AND event_type = :type",
            "ExpressionAttributeValues": {
                ":pk": {"S": partition_key(request.correlation_id)},
                ":request": {"S": request.id},
                ":type": {"S": str(request.response_event)},
            },
            "ConsistentRead": True,
        }
        while True:
            page = client.query(**query)
            for item in page.get("Items", []):
                return EventEnvelope.from_json(item["envelope"]["S"])
            if not page.get("LastEvaluatedKey"):
                return None
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wait_for_reply(
    request: EventEnvelope,
    reader: EventLogReader,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> EventEnvelope:
    """Poll the event log for the reply to `request` until `timeout` seconds have passed."""
    deadline = clock() + timeout
    delay = 0.2
    while True:
        reply = reader.reply_to(request)
        if reply is not None:
            return reply
        left = deadline - clock()
        if left <= 0:
            raise CallTimeoutError(
                f"no {request.response_event!r} reply to {request.type!r} (id {request.id}) "
                f"within {timeout:g} s; correlation id {request.correlation_id}",
                request,
            )
        sleep(min(delay, left))
        delay = min(delay * 2, 2.0)
