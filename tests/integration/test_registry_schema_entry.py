"""A malformed JSON Schema is refused where it enters the registry, on moto DynamoDB: the deploy
sync (and its CloudFormation answer), run-time registration, and the payload check of a runtime
that meets one written before the check existed (dead-lettered at once, never retried)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from soorma import Agent, Worker, clients
from soorma.config import settings
from soorma.publishing import EventPublisher
from soorma.registry import RegistryClient, sync_registry
from soorma.registry.client import reset_shared_clients
from soorma.registry.custom_resource import handle_request
from soorma.registry.entries import EventRecord, Origin, to_item
from soorma.registry.schemas import InvalidSchemaError
from soorma_common import EventDefinition, EventEnvelope, EventTopic
from soorma_common.naming import table_name
from soorma_dev.harness import MotoHarness
from soorma_dev.provision import create_table
from tests.malformed_schemas import MALFORMED

TABLE = table_name("test", "registry")
KINDS = sorted(MALFORMED)


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        settings.cache_clear()
        clients.reset()
        reset_shared_clients()
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, TABLE, "registry")
        yield dynamodb
    settings.cache_clear()
    clients.reset()
    reset_shared_clients()


def definition(schema: dict[str, Any], name: str = "order.placed") -> EventDefinition:
    return EventDefinition(event_name=name, topic=EventTopic.BUSINESS_FACTS, payload_schema=schema)


def consumer(schema: dict[str, Any]) -> Agent:
    agent = Agent("order-processor", events_consumed=[definition(schema)])
    agent.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)(lambda e, c: None)
    return agent


def registry() -> RegistryClient:
    return RegistryClient(TABLE, cache_seconds=0)


@pytest.mark.parametrize("kind", KINDS)
def test_the_deploy_sync_refuses_it_and_writes_nothing(aws: Any, kind: str) -> None:
    schema, problem = MALFORMED[kind]
    healthy = Worker("inventory", events_consumed=[definition({"type": "object"}, "stock.low")])
    healthy.on_event("stock.low", topic=EventTopic.BUSINESS_FACTS)(lambda e, c: None)

    with pytest.raises(InvalidSchemaError) as raised:
        sync_registry(TABLE, [healthy.manifest(), consumer(schema).manifest()])

    assert str(raised.value).startswith(
        "the registry refuses the new manifests: event 'order.placed': the payload schema is "
        f"not a valid JSON Schema (draft-07) {problem}"
    )
    assert registry().catalog().events == {} and registry().all_agents() == []


@pytest.mark.parametrize("kind", KINDS)
def test_cloudformation_is_answered_failed_with_the_reason(aws: Any, kind: str) -> None:
    schema, problem = MALFORMED[kind]
    request = {
        "RequestType": "Create",
        "ResponseURL": "http://127.0.0.1:9/unused",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/soorma-test/1",
        "RequestId": "r-1",
        "LogicalResourceId": "RegistrySync",
        "ResourceType": "Custom::SoormaRegistrySync",
        "ResourceProperties": {
            "TableName": TABLE,
            "Manifests": json.dumps([consumer(schema).manifest().model_dump(mode="json")]),
        },
    }
    document, report = handle_request(request, dynamodb=aws)
    assert document["Status"] == "FAILED" and report is None
    assert problem in document["Reason"] and "event 'order.placed'" in document["Reason"]


@pytest.mark.parametrize("kind", KINDS)
def test_run_time_registration_refuses_it(aws: Any, kind: str) -> None:
    schema, problem = MALFORMED[kind]
    with pytest.raises(InvalidSchemaError, match=r"event 'order\.placed': the payload schema"):
        registry().register_event(definition(schema))
    assert registry().get_event("order.placed") is None

    # over a registered entry too (the compatibility check never sees the malformed schema)
    registry().register_event(definition({"type": "object"}))
    with pytest.raises(InvalidSchemaError) as raised:
        registry().register_event(definition(schema))
    assert problem in str(raised.value)
    event = registry().get_event("order.placed")
    assert event is not None and event.payload_schema == {"type": "object"}

    with pytest.raises(InvalidSchemaError):
        registry().register_agent(consumer(schema))
    assert registry().get_agent("order-processor") is None


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


@pytest.mark.parametrize("kind", KINDS)
def test_an_entry_written_before_the_check_dead_letters_at_once(moto_env: None, kind: str) -> None:
    schema, problem = MALFORMED[kind]
    handled: list[EventEnvelope] = []
    agent = Worker("order-processor", events_consumed=["order.placed"])  # schema: the registry's
    agent.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)(
        lambda event, context: handled.append(event)
    )
    harness = MotoHarness([agent], stage="test", register=False)
    # what an older deploy wrote, unchecked
    record = EventRecord(
        name="order.placed", topic="business-facts", payload_schema=schema, origin=Origin.DEPLOY
    )
    serializer = boto3.dynamodb.types.TypeSerializer()
    item = {k: serializer.serialize(v) for k, v in to_item(record, "2026-01-01").items()}
    clients.client("dynamodb").put_item(TableName=harness.platform.tables["registry"], Item=item)

    # the SDK's publisher refuses to publish against it, permanently
    with pytest.raises(InvalidSchemaError):
        EventPublisher("soorma.tests", bus=harness.platform.bus_name).publish(
            EventTopic.BUSINESS_FACTS, "order.placed", {"total": 1}
        )
    # a producer outside the SDK's checks puts the event anyway
    unchecked = EventPublisher(
        "soorma.legacy", bus=harness.platform.bus_name, validate_payload=lambda _t, _d: None
    )
    unchecked.publish(EventTopic.BUSINESS_FACTS, "order.placed", {"total": 1})
    harness.run_until_idle()

    assert handled == []
    [dead] = harness.dead_letters("order-processor")
    assert dead.kind == "permanent-error"
    assert (dead.reason or "").startswith("InvalidSchemaError: ")
    assert problem in (dead.reason or "")
    [handling] = harness.handlings("order-processor")  # no retries burnt
    assert (handling.outcome, handling.receive_count) == ("dead-lettered", 1)
