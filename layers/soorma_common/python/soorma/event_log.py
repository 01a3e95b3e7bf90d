"""Reading the event log back: one workflow's stored events, by correlation id.

The event log (`functions/event_log/handler.py`) keeps every event on the bus as one item of the
events table: partition `CORR#<correlation_id>`, sort key `EVENT#<time>#<event_id>` with the
time fixed-width (`2026-01-15T09:30:00.000000Z`, so that a query returns a workflow in time
order), the envelope's wire JSON in `envelope`, its id in `event_id`, and `tenant_id` / `user_id`
when the envelope names them. This module owns that layout (`partition_key`, `sort_key`) and is
its one reader, used by `soorma trace` (the dev tools) and by the front door's
`GET /workflows/{correlation_id}`.

Items written before the time was fixed-width (kept until their TTL) hold the time as the wire
writes it, `...:00Z` on a whole second: such a key sorts after the rest of its second. The
reader therefore orders each second's items itself, by time and event id, and returns an event
id once (a redelivery across the change wrote the event under both keys).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from soorma_common.envelope import EventEnvelope

PARTITION_PREFIX = "CORR#"
SORT_PREFIX = "EVENT#"
#: DynamoDB's key limits, in UTF-8 bytes (the event log checks each item's keys against them).
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
#: `YYYY-MM-DDTHH:MM:SS`: the part of a sort key's time that both layouts write alike.
_SECOND_CHARS = 19


def partition_key(correlation_id: str) -> str:
    """The partition of one workflow's events."""
    return f"{PARTITION_PREFIX}{correlation_id}"


def sort_time(time: datetime) -> str:
    """A time as the sort key holds it: UTC, fixed width (`%Y-%m-%dT%H:%M:%S.%fZ`, the year in
    4 digits), so that text order is time order."""
    utc = time.astimezone(UTC) if time.tzinfo else time
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def sort_key(time: datetime, event_id: str) -> str:
    """The sort key of one event: time first, so that a query returns a workflow in order."""
    return f"{SORT_PREFIX}{sort_time(time)}#{event_id}"


def logged_items(
    dynamodb: Any,
    table: str,
    correlation_id: str,
    *,
    tenant_id: str | None = None,
    consistent: bool = True,
) -> Iterator[dict[str, Any]]:
    """The raw items (low-level attribute values) stored for one correlation id, in time order
    (then event id order), one per event id.

    With `tenant_id`, only the items whose stored `tenant_id` is that tenant (a DynamoDB filter:
    items of other tenants, or of none, are read but never returned). Pages are read as the
    items are consumed, so a caller that stops early reads no further.
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
    pages = dynamodb.get_paginator("query").paginate(**request)
    yield from in_time_order(item for page in pages for item in page.get("Items", []))


def in_time_order(items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Event-log items in sort-key order, reordered within each second by (time, event id) and
    each event id once (the first read).

    Both key layouts agree up to the second (`YYYY-MM-DDTHH:MM:SS`), so the query already
    returns each second's items together; only an old whole-second key (`...:00Z`, after the
    rest of its second) is out of place inside its group.
    """
    seen: set[str] = set()
    group: list[tuple[tuple[str, str], dict[str, Any]]] = []
    second = None
    for item in items:
        time_text, event_id = _time_and_id(item)
        if time_text[:_SECOND_CHARS] != second:
            yield from _flush(group, seen)
            second = time_text[:_SECOND_CHARS]
        group.append(((fixed_width_time(time_text), event_id), item))
    yield from _flush(group, seen)


def _flush(
    group: list[tuple[tuple[str, str], dict[str, Any]]], seen: set[str]
) -> Iterator[dict[str, Any]]:
    group.sort(key=lambda entry: entry[0])
    for (_, event_id), item in group:
        if event_id not in seen:
            seen.add(event_id)
            yield item
    group.clear()


def _time_and_id(item: dict[str, Any]) -> tuple[str, str]:
    """The time text and the event id of an item's sort key (`EVENT#<time>#<event id>`; the
    time holds no `#`)."""
    sort = str(item.get("sk", {}).get("S", ""))[len(SORT_PREFIX) :]
    time_text, _, key_id = sort.partition("#")
    event_id = item.get("event_id", {}).get("S")
    return time_text, str(event_id) if isinstance(event_id, str) else key_id


def fixed_width_time(time_text: str) -> str:
    """A wire time (or an old sort key's, `...:00Z` on a whole second) in the sort key's
    fixed-width layout; text that is no time is kept as it is."""
    try:
        return sort_time(datetime.fromisoformat(time_text.replace("Z", "+00:00")))
    except ValueError:
        return time_text


def logged_envelopes(
    dynamodb: Any, table: str, correlation_id: str, *, tenant_id: str | None = None
) -> list[EventEnvelope]:
    """Every envelope the event log stored for one correlation id (of one tenant, when
    `tenant_id` is given), in time order (then id order), each once."""
    return [
        EventEnvelope.from_json(item["envelope"]["S"])
        for item in logged_items(dynamodb, table, correlation_id, tenant_id=tenant_id)
    ]
