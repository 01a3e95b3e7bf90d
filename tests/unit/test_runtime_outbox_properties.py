"""Whatever a handler may publish, the runtime can store (Powertools' own DynamoDB persistence
layer, against a table that refuses items over DynamoDB's 400 KB as DynamoDB does) and flush
(PutEvents requests of at most 10 entries and 256 KB) byte for byte; what it cannot, it refuses
at publish as a permanent error."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soorma.bus import BusClient
from soorma.outbox import restore, store, stored_size
from soorma.publishing import (
    MAX_ENTRIES_PER_PUT,
    MAX_PUT_EVENTS_REQUEST_BYTES,
    EventBridgePublisher,
    PutEventsEntry,
)
from soorma.runtime.claims import ClaimStore
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import OutboxNotStorableError, PermanentError

DYNAMODB_ITEM_LIMIT = 400 * 1024


def item_size(item: Mapping[str, Mapping[str, str]]) -> int:
    """DynamoDB's item size: UTF-8 names plus values (numbers counted as their text, an upper
    bound of DynamoDB's own rule)."""
    return sum(
        len(name.encode()) + len(next(iter(value.values())).encode())
        for name, value in item.items()
    )


class SizeCheckingTable:
    """The DynamoDB calls the claim store makes, refusing items over 400 KB with
    DynamoDB's `ValidationException`."""

    class exceptions:
        ConditionalCheckFailedException = ClientError

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.largest = 0

    def _check(self, item: dict[str, Any], operation: str) -> None:
        size = item_size(item)
        if size > DYNAMODB_ITEM_LIMIT:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": "Item size has exceeded the maximum allowed size",
                    }
                },
                operation,
            )
        self.largest = max(self.largest, size)

    def put_item(self, *, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._check(Item, "PutItem")
        key = Item["id"]["S"]
        if key in self.items:  # the claim's condition: every key here is fresh (TTL 1 hour)
            raise ClientError(
                {
                    "Error": {"Code": "ConditionalCheckFailedException", "Message": "exists"},
                    "Item": self.items[key],
                },
                "PutItem",
            )
        self.items[key] = dict(Item)
        return {}

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self.items.get(Key["id"]["S"])
        return {"Item": item} if item else {}

    def update_item(
        self,
        *,
        Key: dict[str, Any],
        ExpressionAttributeNames: dict[str, str],
        ExpressionAttributeValues: dict[str, Any],
        **_: Any,
    ) -> dict[str, Any]:
        item = {**self.items.get(Key["id"]["S"], dict(Key))}
        for placeholder, name in ExpressionAttributeNames.items():
            value = ExpressionAttributeValues.get(":" + placeholder[1:])
            if value is not None:
                item[name] = value
        self._check(item, "UpdateItem")
        self.items[Key["id"]["S"]] = item
        return {}

    def delete_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.items.pop(Key["id"]["S"], None)
        return {}


class BoundedEventBridge:
    """PutEvents refusing, as EventBridge does, requests over 10 entries or 256 KB."""

    def __init__(self) -> None:
        self.details: list[str] = []

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        size = sum(len((e["Source"] + e["DetailType"] + e["Detail"]).encode()) for e in entries)
        assert 1 <= len(entries) <= MAX_ENTRIES_PER_PUT
        assert size <= MAX_PUT_EVENTS_REQUEST_BYTES, size
        self.details.extend(e["Detail"] for e in entries)
        return {}


def claim_store(table: SizeCheckingTable) -> ClaimStore:
    return ClaimStore("claims", expires_after_seconds=3600, dynamodb_client=table)


HANDLED = EventEnvelope(
    id="evt-1", source="soorma.shop", type="order.placed", topic=EventTopic.BUSINESS_FACTS
)
characters = st.sampled_from(["a", "é", "中", "😀", '"', "\\", "\n", "\u2028"])
nested = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)
payloads = st.builds(
    lambda ch, n, extra: {"text": ch * n, "extra": extra},
    characters,
    st.integers(0, 140_000),
    nested,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=5))
def test_what_is_accepted_at_publish_is_stored_and_flushed_byte_for_byte(
    payloads: list[dict[str, Any]],
) -> None:
    bus = BusClient("worker", "soorma.worker", handled=HANDLED)
    for data in payloads:
        try:
            bus.announce("doc.stored", data)
        except PermanentError:
            break  # refused at publish: the handler fails, nothing is stored
    events = bus.outgoing_events()
    table = SizeCheckingTable()

    stored = claim_store(table).run_once("worker#evt-1", lambda: store(events))

    assert len(json.dumps(stored, sort_keys=True)) == stored_size([e.size for e in events])
    assert table.largest <= DYNAMODB_ITEM_LIMIT
    again = restore(claim_store(table).run_once("worker#evt-1", list), "worker#evt-1")
    assert [e.detail for e in again] == [e.detail for e in events]
    eventbridge = BoundedEventBridge()
    EventBridgePublisher("bus", sink=eventbridge, backoff_seconds=0).put(again)
    assert eventbridge.details == [e.detail for e in events]


def test_an_event_of_150_kb_of_accented_text_is_stored_in_one_item() -> None:
    # Stored as JSON text (`\u00e9`, 6 bytes per letter) this was a 450 KB item DynamoDB refused
    bus = BusClient("worker", "soorma.worker", handled=HANDLED)
    bus.announce("doc.stored", {"text": "é" * 75_000})
    events = bus.outgoing_events()
    table = SizeCheckingTable()

    claim_store(table).run_once("worker#evt-1", lambda: store(events))

    assert 150_000 < events[0].size < table.largest <= DYNAMODB_ITEM_LIMIT


def test_an_outbox_dynamodb_refuses_is_permanent_and_releases_the_claim() -> None:
    table = SizeCheckingTable()
    claims = claim_store(table)
    too_big = ["A" * (300 * 1024), "B" * (200 * 1024)]  # written by hand, past the bus's budget

    with pytest.raises(OutboxNotStorableError, match="too large"):
        claims.run_once("worker#evt-2", lambda: too_big)

    assert table.items == {}  # released, not left in progress
    assert claim_store(table).run_once("worker#evt-2", lambda: []) == []  # runs again


def test_a_record_stored_by_an_older_runtime_is_still_reflushed() -> None:
    wire = EventEnvelope(
        source="soorma.worker", type="doc.stored", topic=EventTopic.BUSINESS_FACTS, data={"a": 1}
    ).to_wire()
    [event] = restore([wire], "worker#evt-3")
    assert json.loads(event.detail) == wire
