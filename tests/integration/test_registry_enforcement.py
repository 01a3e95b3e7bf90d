"""Schemas enforced on the wire: publish inside a handler, and consume, on moto (MotoHarness)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent, BusClient, Worker, clients
from soorma.config import settings
from soorma.publishing import EventBridgePublisher, EventBridgeSink, EventPublisher
from soorma.registry import RegistryClient, sync_registry
from soorma.registry.client import reset_shared_clients
from soorma.registry.validation import PayloadValidator, registry_lookup, validator_for_agent
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import SchemaValidationError
from soorma_common.replies import failure_reply
from soorma_dev.harness import MotoHarness
from soorma_dev.testing import DeadLetter
from tests.registry_catalog import ORDER_PLACED, RESERVE


def build_agents(reserve_quantity: Any) -> tuple[Agent, Worker]:
    orders = Agent("order-processor", events_consumed=[ORDER_PLACED], events_produced=[RESERVE])

    @orders.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
    def placed(event: EventEnvelope, context: Any) -> None:
        context.bus.publish(
            EventTopic.ACTION_REQUESTS,
            "inventory.reserve",
            {"sku": "A-1", "quantity": reserve_quantity},
        )

    # declares the event by name only: its schema comes from the registry table
    inventory = Worker("inventory", events_consumed=["inventory.reserve"])
    inventory.handled = []  # type: ignore[attr-defined]

    @inventory.on_event("inventory.reserve")
    def reserve(event: EventEnvelope, context: Any) -> None:
        inventory.handled.append(event.data)  # type: ignore[attr-defined]

    return orders, inventory


@pytest.fixture
def moto_env() -> Iterator[None]:
    saved = dict(os.environ)  # MotoHarness exports the platform's SOORMA_* variables
    with mock_aws():
        reset_shared_clients()
        yield
    os.environ.clear()
    os.environ.update(saved)
    reset_shared_clients()
    settings.cache_clear()
    clients.reset()


def reason_of(letter: DeadLetter) -> str:
    """The error the runtime sent the letter with (`"<ErrorType>: <message>"`)."""
    assert letter.kind == "permanent-error"
    return letter.reason or ""


def test_valid_events_flow_and_registry_schemas_apply(moto_env: None) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test")
    sync_registry(harness.platform.tables["registry"], [orders.manifest(), inventory.manifest()])

    harness.send("order.placed", {"order_id": "o-1", "total": 10}, topic=EventTopic.BUSINESS_FACTS)
    harness.run_until_idle()

    assert inventory.handled == [{"sku": "A-1", "quantity": 2}]  # type: ignore[attr-defined]


def test_consume_of_an_invalid_payload_goes_to_the_dlq_with_its_reason(moto_env: None) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test")

    # a producer that skips the checks (another language, an old client) puts a bad payload
    unchecked = EventPublisher(
        "soorma.tests", bus=harness.platform.bus_name, validate_payload=lambda _t, _d: None
    )
    unchecked.publish(EventTopic.BUSINESS_FACTS, "order.placed", {"order_id": "o-1", "total": -5})
    harness.run_until_idle()

    [dead] = harness.dead_letters("order-processor")
    reason = reason_of(dead)
    assert "event 'order.placed'" in reason
    assert "field 'total' = -5" in reason
    assert "greater_than_equal" in reason
    assert reason_of(dead).startswith("SchemaValidationError: ")
    assert harness.receive("inventory", EventTopic.ACTION_REQUESTS) == []


def test_an_invalid_publish_in_a_handler_dead_letters_and_sends_nothing(moto_env: None) -> None:
    orders, inventory = build_agents("two")
    harness = MotoHarness([orders, inventory], stage="test")

    harness.send("order.placed", {"order_id": "o-1", "total": 3}, topic=EventTopic.BUSINESS_FACTS)
    harness.run_until_idle()

    [dead] = harness.dead_letters("order-processor")
    assert "event 'inventory.reserve': field 'quantity' = 'two'" in reason_of(dead)
    assert inventory.handled == []  # type: ignore[attr-defined]
    assert harness.dead_letters("inventory") == []


def test_consumer_checks_schemas_read_from_the_registry(moto_env: None) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test")
    sync_registry(harness.platform.tables["registry"], [orders.manifest(), inventory.manifest()])
    # a producer outside the SDK's checks puts a bad request straight on the bus
    legacy = EventPublisher(
        "soorma.legacy", bus=harness.platform.bus_name, validate_payload=lambda name, data: None
    )
    legacy.publish(EventTopic.ACTION_REQUESTS, "inventory.reserve", {"sku": "A-1"})
    harness.run_until_idle()

    [dead] = harness.dead_letters("inventory")
    assert "field 'quantity' = missing breaks rule 'required" in reason_of(dead)
    assert inventory.handled == []  # type: ignore[attr-defined]


def test_publish_raises_before_any_put_events(moto_env: None) -> None:
    orders, _ = build_agents(2)
    MotoHarness([orders], stage="test")
    validator = validator_for_agent(orders)
    bus = BusClient(
        orders.name,
        orders.source,
        produced=orders.produced_event_names(),
        validate_payload=validator,
    )

    put_events: list[str] = []
    events = clients.client("events")
    events.meta.events.register(
        "before-call.events.PutEvents", lambda **kw: put_events.append(kw["model"].name)
    )

    with pytest.raises(SchemaValidationError, match=r"field 'quantity' = 'x'"):
        bus.publish(EventTopic.ACTION_REQUESTS, "inventory.reserve", {"sku": "A", "quantity": "x"})
    assert bus.outbox == []
    EventBridgePublisher(sink=EventBridgeSink(events)).put(bus.outgoing_events())  # the flush
    assert put_events == []

    # the hook sees PutEvents when one is made: the assertion above can fail
    bus.publish(EventTopic.ACTION_REQUESTS, "inventory.reserve", {"sku": "A", "quantity": 1})
    EventBridgePublisher(sink=EventBridgeSink(events)).put(bus.outgoing_events())
    assert put_events == ["PutEvents"]


def test_strict_mode_rejects_events_without_a_schema(
    moto_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders, _ = build_agents(2)
    MotoHarness([orders], stage="test")
    lenient = validator_for_agent(orders)
    assert lenient is not None
    lenient("audit.noted", {"anything": True})  # no schema: passes

    monkeypatch.setenv("SOORMA_SCHEMA_MODE", "strict")
    settings.cache_clear()
    strict = validator_for_agent(orders)
    assert strict is not None
    with pytest.raises(SchemaValidationError, match=r"no registered schema.*strict"):
        strict("audit.noted", {"anything": True})
    strict("order.placed", {"order_id": "o", "total": 1})


def test_registry_reads_are_cached_per_cold_start(moto_env: None) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test")
    table = harness.platform.tables["registry"]
    sync_registry(table, [orders.manifest(), inventory.manifest()])
    validator = validator_for_agent(inventory)
    assert validator is not None
    calls: list[str] = []
    clients.client("dynamodb").meta.events.register(
        "before-call.dynamodb.*", lambda **kw: calls.append(kw["model"].name)
    )
    for _ in range(5):
        validator("inventory.reserve", {"sku": "A", "quantity": 1})
        validator("unknown.event", {"x": 1})
    assert calls == ["GetItem", "GetItem"]  # one read per event type, misses included
    assert RegistryClient(table).get_event("inventory.reserve") is not None


def test_cached_schemas_and_misses_expire(moto_env: None) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test", register=False)
    table = harness.platform.tables["registry"]
    now = [0.0]
    validate = PayloadValidator(
        lookup=registry_lookup(table), cache_seconds=60, clock=lambda: now[0]
    )
    validate("inventory.reserve", {"sku": "A"})  # not registered yet: passes, miss cached

    sync_registry(table, [orders.manifest(), inventory.manifest()])
    now[0] = 59.0
    validate("inventory.reserve", {"sku": "A"})  # the miss is still trusted
    now[0] = 60.0
    with pytest.raises(SchemaValidationError, match="field 'quantity' = missing"):
        validate("inventory.reserve", {"sku": "A"})  # expired: read again, now enforced


def test_the_cache_lifetime_comes_from_the_environment(
    moto_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test", register=False)
    monkeypatch.setenv("SOORMA_REGISTRY_CACHE_SECONDS", "0")
    settings.cache_clear()
    validator = validator_for_agent(inventory)
    assert validator is not None and validator.cache_seconds == 0
    validator("inventory.reserve", {"sku": "A"})  # nothing registered: passes
    sync_registry(harness.platform.tables["registry"], [orders.manifest(), inventory.manifest()])
    with pytest.raises(SchemaValidationError, match="field 'quantity' = missing"):
        validator("inventory.reserve", {"sku": "A"})
    assert RegistryClient.from_env().cache_seconds == 0


# ---- only replies may be failure replies ------------------------------------------------------
def test_the_failure_shape_on_a_business_fact_is_checked_on_consume(moto_env: None) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test")
    unchecked = EventPublisher(
        "soorma.tests", bus=harness.platform.bus_name, validate_payload=lambda _t, _d: None
    )
    unchecked.publish(EventTopic.BUSINESS_FACTS, "order.placed", failure_reply("not an order"))
    harness.run_until_idle()

    [dead] = harness.dead_letters("order-processor")
    assert reason_of(dead).startswith("SchemaValidationError: ")
    assert "field 'order_id' = missing" in reason_of(dead)


def test_the_failure_shape_is_no_business_fact_for_a_publisher(moto_env: None) -> None:
    orders, inventory = build_agents(2)
    harness = MotoHarness([orders, inventory], stage="test")
    with pytest.raises(SchemaValidationError, match="field 'order_id' = missing"):
        EventPublisher("soorma.tests", bus=harness.platform.bus_name).publish(
            EventTopic.BUSINESS_FACTS, "order.placed", failure_reply("not an order")
        )


def test_a_handler_cannot_send_a_request_in_the_failure_shape(moto_env: None) -> None:
    orders, _ = build_agents(2)
    MotoHarness([orders], stage="test")
    bus = BusClient(
        orders.name,
        orders.source,
        produced=orders.produced_event_names(),
        validate_payload=validator_for_agent(orders),
    )
    with pytest.raises(SchemaValidationError, match="field 'sku' = missing"):
        bus.publish(EventTopic.ACTION_REQUESTS, "inventory.reserve", failure_reply("x"))
