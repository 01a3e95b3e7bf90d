"""Producers outside the SDK: the PutEvents entry written by hand in docs/wire-format.md, put
with a plain boto3 client, reaches an agent; and `EventPublisher` follows the same rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from pydantic import BaseModel, Field

from soorma import Agent, EventPublisher, clients
from soorma.config import settings
from soorma.registry import sync_registry
from soorma_common import EventDefinition, EventEnvelope, EventTopic
from soorma_common.errors import EventTooLargeError, SchemaValidationError
from soorma_dev.harness import MotoHarness, record_put_events

WIRE_FORMAT = Path(__file__).parents[2] / "docs" / "wire-format.md"
FACTS = EventTopic.BUSINESS_FACTS


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def documented_entry() -> dict[str, Any]:
    """The PutEvents entry of docs/wire-format.md, exactly as written there."""
    text = WIRE_FORMAT.read_text()
    match = re.search(r"```json put-events-entry\n(.*?)```", text, re.S)
    assert match, "docs/wire-format.md lost its put-events-entry example"
    entry: dict[str, Any] = json.loads(match.group(1))
    return entry


def order_listener(seen: list[EventEnvelope]) -> Agent:
    agent = Agent("order-listener")

    @agent.on_event("order.placed", topic=FACTS)
    def placed(event: EventEnvelope, context: Any) -> None:
        seen.append(event)
        context.bus.announce("order.acknowledged", {"order_id": event.data["order_id"]})

    return agent


def test_the_hand_written_entry_of_the_wire_format_doc_is_handled() -> None:
    seen: list[EventEnvelope] = []
    harness = MotoHarness([order_listener(seen)])
    entry = documented_entry()
    detail = json.loads(entry["Detail"])
    entry["EventBusName"] = harness.platform.bus_name

    result = harness.events.put_events(Entries=[entry])  # a plain client: no Soorma code
    assert result["FailedEntryCount"] == 0
    with record_put_events() as put_events:
        delivery = harness.deliver("order-listener", FACTS)

    assert delivery.failed_ids == []
    [event] = seen
    assert event.id == detail["id"]
    assert event.source == entry["Source"] and event.type == entry["DetailType"]
    assert event.correlation_id == "c-2026-01-15-0001"
    assert (event.tenant_id, event.user_id) == ("acme", "u-42")
    assert event.data == {"order_id": "o-1001", "total": 42.5}
    [ack] = put_events.details()
    assert ack["correlationid"] == "c-2026-01-15-0001"
    assert ack["causationid"] == detail["id"]
    assert ack["source"] == "soorma.order-listener"


def test_an_entry_without_correlationid_starts_a_workflow_named_by_its_id() -> None:
    seen: list[EventEnvelope] = []
    harness = MotoHarness([order_listener(seen)])
    entry = documented_entry()
    detail = json.loads(entry["Detail"])
    del detail["correlationid"]
    entry.update(EventBusName=harness.platform.bus_name, Detail=json.dumps(detail))
    harness.events.put_events(Entries=[entry, entry])  # delivered twice, parsed twice
    with record_put_events() as put_events:
        harness.deliver("order-listener", FACTS)

    assert [e.correlation_id for e in seen] == [detail["id"]]
    acks = put_events.details()
    # The duplicate's reply is the first's (same id, same bytes), so the flush put it once.
    assert len(acks) == 1
    assert acks[0]["correlationid"] == detail["id"]


def test_the_sdk_publisher_puts_the_documented_entry_shape() -> None:
    harness = MotoHarness([order_listener([])])
    publisher = EventPublisher("shop.orders-api", bus=harness.platform.bus_name)
    with record_put_events() as put_events:
        sent = publisher.publish(FACTS, "order.placed", {"order_id": "o-2"}, tenant_id="acme")

    [[entry]] = put_events.calls
    assert set(entry) == {"Source", "DetailType", "Detail", "EventBusName"}
    assert (entry["Source"], entry["DetailType"]) == ("shop.orders-api", "order.placed")
    assert EventEnvelope.from_json(entry["Detail"]) == sent
    harness.run_until_idle()
    [delivered] = harness.delivered_details("order-listener")
    assert delivered == sent.to_wire()


def test_the_publisher_batches_by_ten_and_refuses_oversized_events() -> None:
    harness = MotoHarness([order_listener([])])
    publisher = EventPublisher("shop.orders-api", bus=harness.platform.bus_name)
    envelopes = [
        EventEnvelope(
            source="shop.orders-api", type="order.placed", topic=FACTS, data={"order_id": str(n)}
        )
        for n in range(23)
    ]
    with record_put_events() as put_events:
        publisher.publish_envelopes(envelopes)
    assert [len(call) for call in put_events.calls] == [10, 10, 3]

    with (
        pytest.raises(EventTooLargeError, match=r"over the 262144-byte limit"),
        record_put_events() as refused,
    ):
        publisher.publish(FACTS, "order.placed", {"blob": "x" * 262_144})
    assert refused.count == 0


class Placed(BaseModel):
    order_id: str
    total: float = Field(ge=0)


PLACED = EventDefinition(
    event_name="order.placed", topic=FACTS, description="An order was placed", payload_schema=Placed
)


@contextmanager
def put_events_calls() -> Iterator[list[dict[str, Any]]]:
    """Every PutEvents call about to be sent by the SDK's events client (a botocore hook)."""
    client = clients.client("events")
    calls: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    client.meta.events.register("before-call.events.PutEvents", hook)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.events.PutEvents", hook)


def test_the_publisher_checks_payloads_against_the_registry_before_putting() -> None:
    with MotoHarness([order_listener([])]) as harness:
        listener = Agent("schema-owner", events_produced=[PLACED])
        sync_registry(harness.platform.tables["registry"], [listener.manifest()])
        publisher = EventPublisher("shop.orders-api", bus=harness.platform.bus_name)

        with (
            put_events_calls() as refused,
            pytest.raises(SchemaValidationError, match=r"'total' = -1 breaks rule"),
        ):
            publisher.publish(FACTS, "order.placed", {"order_id": "o-3", "total": -1})
        assert refused == []
        bad = EventEnvelope(
            source="shop.orders-api", type="order.placed", topic=FACTS, data={"total": 1}
        )
        good = EventEnvelope(
            source="shop.orders-api", type="order.placed", topic=FACTS, data={"order_id": "o-4"}
        )
        with put_events_calls() as refused, pytest.raises(SchemaValidationError, match="order_id"):
            publisher.publish_envelopes([good, bad])  # none of the batch is put
        assert refused == []

        with put_events_calls() as sent:
            publisher.publish(FACTS, "order.placed", {"order_id": "o-5", "total": 3})
        assert len(sent) == 1


def test_a_publisher_uses_the_validator_it_is_given() -> None:
    with MotoHarness([order_listener([])]) as harness:
        checked: list[tuple[str, Any]] = []
        publisher = EventPublisher(
            "shop.orders-api",
            bus=harness.platform.bus_name,
            validate_payload=lambda event_type, data: checked.append((event_type, data)),
        )
        with put_events_calls() as sent:
            publisher.publish(FACTS, "order.placed", {"total": -1})
        assert checked == [("order.placed", {"total": -1})] and len(sent) == 1


def test_without_a_registry_table_the_publisher_checks_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SOORMA_REGISTRY_TABLE", raising=False)
    monkeypatch.delenv("SOORMA_SCHEMA_MODE", raising=False)
    settings.cache_clear()
    try:
        assert EventPublisher("shop.orders-api", bus="any").validate_payload is None
    finally:
        settings.cache_clear()
