"""The registry sync, driven by CloudFormation custom-resource requests, on moto DynamoDB.

The requests have the documented shape (Create, Update with OldResourceProperties, Delete,
and the rollback Update CloudFormation sends after a failed update); the function PUTs its
response to `ResponseURL`, captured here by an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import BaseModel, Field

from soorma import Agent, Worker, clients
from soorma.config import settings
from soorma.registry import IncompatibleSchemaError, RegistryClient, sync_registry
from soorma.registry.client import reset_shared_clients
from soorma.registry.custom_resource import (
    RESPONSE_RESERVE_SECONDS,
    UPLOAD_ATTEMPTS,
    ResponseUploadError,
    handle_and_respond,
    send_with_retries,
)
from soorma.registry.table import RegistryTable
from soorma_common import EventDefinition, EventTopic
from soorma_common.manifest import AgentManifest
from soorma_common.naming import table_name
from soorma_dev.provision import create_table
from tests.registry_catalog import (
    OrderPlaced,
    OrderPlacedTotalAsText,
    OrderPlacedWithCustomer,
    OrderPlacedWithNote,
    order_manifests,
    order_placed,
)

TABLE = table_name("test", "registry")
HANDLER = Path(__file__).resolve().parents[2] / "functions" / "registry_sync" / "handler.py"
STACK_ID = (
    "arn:aws:cloudformation:us-east-1:123456789012:stack/soorma-test/"
    "51af3dc0-da77-11e4-872e-1234567db123"
)
SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:soorma-test-registry-sync"


def manifests(
    order_model: type[BaseModel] = OrderPlaced,
    *,
    with_inventory: bool = True,
    order_event: str = "order.placed",
) -> list[AgentManifest]:
    return order_manifests(
        order_placed(order_model, name=order_event), with_inventory=with_inventory
    )


def properties(items: list[AgentManifest]) -> dict[str, Any]:
    return {
        "ServiceToken": SERVICE_TOKEN,
        "TableName": TABLE,
        "Manifests": json.dumps([m.model_dump(mode="json") for m in items]),
    }


class ResponseCatcher:
    """The presigned S3 URL stand-in: records every PUT it accepts (status 200).

    `failures` lists the statuses answered to the next PUTs, in order (e.g. `[500, 503]`: the
    first two attempts fail); `attempts` counts every PUT received.
    """

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.failures: list[int] = []
        self.attempts = 0
        self.received = threading.Event()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                catcher.attempts += 1
                status = catcher.failures.pop(0) if catcher.failures else 200
                if status == 200:
                    catcher.bodies.append(body)
                    catcher.headers.append(dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if status == 200:
                    catcher.received.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return (
            f"http://{host}:{port}/cloudformation-custom-resource-response-useast1/"
            f"{uuid.uuid4()}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def catcher(monkeypatch: pytest.MonkeyPatch) -> Iterator[ResponseCatcher]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    found = ResponseCatcher()
    yield found
    found.close()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SOORMA_REGISTRY_TABLE", TABLE)
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


@pytest.fixture
def handler() -> Any:
    spec = importlib.util.spec_from_file_location("registry_sync_handler", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def request(
    kind: str,
    url: str,
    props: dict[str, Any],
    *,
    old: dict[str, Any] | None = None,
    physical_id: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ServiceToken": SERVICE_TOKEN,
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "LogicalResourceId": "RegistrySync",
        "ResourceType": "Custom::SoormaRegistrySync",
        "ResourceProperties": props,
    }
    if old is not None:
        event["OldResourceProperties"] = old
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def registry() -> RegistryClient:
    return RegistryClient(TABLE, cache_seconds=0)


class OrderPlacedDescribed(OrderPlaced):
    """`order.placed` v1 with descriptions: compatible both ways (FULL)."""

    order_id: str = Field(description="The order's id")


def test_create_update_rollback_delete_keep_one_physical_id(
    aws: Any, handler: Any, catcher: ResponseCatcher
) -> None:
    v1, v2 = (
        properties(manifests()),
        properties(manifests(OrderPlacedDescribed, with_inventory=False)),
    )

    create = request("Create", catcher.url(), v1)
    assert handler(create, None) == catcher.bodies[-1]
    created = catcher.bodies[-1]
    assert created["Status"] == "SUCCESS", created["Reason"]
    assert created["RequestId"] == create["RequestId"]
    assert catcher.headers[-1].get("Content-Type", "") == ""
    physical_id = created["PhysicalResourceId"]
    assert registry().get_event("order.placed") is not None
    assert registry().get_agent("inventory") is not None

    # an update: a description added (compatible), the inventory agent removed
    handler(request("Update", catcher.url(), v2, old=v1, physical_id=physical_id), None)
    updated = catcher.bodies[-1]
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert updated["PhysicalResourceId"] == physical_id
    event = registry().get_event("order.placed")
    assert event is not None and "description" in event.payload_schema["properties"]["order_id"]
    assert registry().get_agent("inventory") is None
    assert registry().consumers_of("inventory.reserve") == []

    # the rollback CloudFormation sends when a later resource fails: old properties are new again
    handler(request("Update", catcher.url(), v1, old=v2, physical_id=physical_id), None)
    rolled_back = catcher.bodies[-1]
    assert rolled_back["Status"] == "SUCCESS", rolled_back["Reason"]
    assert rolled_back["PhysicalResourceId"] == physical_id
    event = registry().get_event("order.placed")
    assert event is not None and "description" not in event.payload_schema["properties"]["order_id"]
    assert registry().get_agent("inventory") is not None

    handler(request("Delete", catcher.url(), v1, physical_id=physical_id), None)
    deleted = catcher.bodies[-1]
    assert deleted["Status"] == "SUCCESS"
    assert deleted["PhysicalResourceId"] == physical_id
    assert registry().all_events() == [] and registry().all_agents() == []
    assert all(
        b["StackId"] == STACK_ID and b["LogicalResourceId"] == "RegistrySync"
        for b in catcher.bodies
    )


@pytest.mark.parametrize(
    ("model", "change"),
    [
        (OrderPlacedWithCustomer, "payload required field 'customer_id' added"),
        (OrderPlacedTotalAsText, "payload type of field 'total' changed from number to string"),
        # v1 refuses undeclared fields: consumers still on v1 would dead-letter every `note`
        (
            OrderPlacedWithNote,
            "payload field 'note' added, but old consumers refuse undeclared fields",
        ),
    ],
)
def test_incompatible_change_fails_the_update_and_writes_nothing(
    aws: Any, handler: Any, catcher: ResponseCatcher, model: type[BaseModel], change: str
) -> None:
    v1 = properties(manifests())
    handler(request("Create", catcher.url(), v1), None)
    physical_id = catcher.bodies[-1]["PhysicalResourceId"]
    before = registry().catalog()

    bad = properties(manifests(model, with_inventory=False))
    handler(request("Update", catcher.url(), bad, old=v1, physical_id=physical_id), None)

    failed = catcher.bodies[-1]
    assert failed["Status"] == "FAILED"
    assert failed["PhysicalResourceId"] == physical_id
    assert f"event 'order.placed': {change}" in failed["Reason"]
    assert "'order.placed.v2'" in failed["Reason"]
    assert registry().catalog() == before  # nothing written, inventory still there

    # CloudFormation's rollback update (old properties again) succeeds
    handler(request("Update", catcher.url(), v1, old=bad, physical_id=physical_id), None)
    assert catcher.bodies[-1]["Status"] == "SUCCESS"


def test_a_new_versioned_name_may_change_the_schema(aws: Any) -> None:
    sync_registry(TABLE, manifests())
    report = sync_registry(TABLE, manifests(OrderPlacedWithCustomer, order_event="order.placed.v2"))
    assert "event:order.placed.v2" in report.created
    assert "event:order.placed" in report.deleted
    event = registry().get_event("order.placed.v2")
    assert event is not None and event.version == 2


def test_run_time_registrations_are_spared(aws: Any) -> None:
    sync_registry(TABLE, manifests())
    outsider = Worker(
        "partner-bridge",
        events_consumed=[
            EventDefinition(
                event_name="partner.quote",
                topic=EventTopic.ACTION_REQUESTS,
                payload_schema={
                    "type": "object",
                    "required": ["sku"],
                    "properties": {"sku": {"type": "string"}},
                },
            )
        ],
    )
    outsider.on_event("partner.quote")(lambda e, c: None)
    registry().register_agent(outsider)

    report = sync_registry(TABLE, manifests(with_inventory=False), manifests())

    assert "agent:partner-bridge" in report.spared and "event:partner.quote" in report.spared
    assert "agent:inventory" in report.deleted
    assert registry().get_event("partner.quote") is not None
    assert registry().consumers_of("partner.quote") == ["partner-bridge"]
    report = sync_registry(TABLE, [])
    assert registry().get_agent("partner-bridge") is not None
    assert sorted(report.deleted) == [
        "agent:order-processor",
        "event:inventory.reserve",
        "event:order.placed",
    ]


def test_failed_create_then_its_delete_touches_nothing(
    aws: Any, handler: Any, catcher: ResponseCatcher
) -> None:
    sync_registry(TABLE, manifests())
    bad = properties(manifests(OrderPlacedTotalAsText))
    handler(request("Create", catcher.url(), bad), None)
    failed = catcher.bodies[-1]
    assert failed["Status"] == "FAILED"

    handler(request("Delete", catcher.url(), bad, physical_id=failed["PhysicalResourceId"]), None)

    assert catcher.bodies[-1]["Status"] == "SUCCESS"
    assert registry().get_event("order.placed") is not None


def test_delete_after_the_table_is_gone_succeeds(
    aws: Any, handler: Any, catcher: ResponseCatcher
) -> None:
    v1 = properties(manifests())
    handler(request("Create", catcher.url(), v1), None)
    physical_id = catcher.bodies[-1]["PhysicalResourceId"]
    aws.delete_table(TableName=TABLE)  # CloudFormation deleted the table first, or someone did

    handler(request("Delete", catcher.url(), v1, physical_id=physical_id), None)

    deleted = catcher.bodies[-1]
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]  # not DELETE_FAILED
    assert deleted["PhysicalResourceId"] == physical_id
    assert deleted["Data"] == {}


def test_an_update_whose_table_is_gone_still_fails(
    aws: Any, handler: Any, catcher: ResponseCatcher
) -> None:
    v1 = properties(manifests())
    handler(request("Create", catcher.url(), v1), None)
    physical_id = catcher.bodies[-1]["PhysicalResourceId"]
    aws.delete_table(TableName=TABLE)

    handler(request("Update", catcher.url(), v1, old=v1, physical_id=physical_id), None)

    assert catcher.bodies[-1]["Status"] == "FAILED"
    assert "ResourceNotFoundException" in catcher.bodies[-1]["Reason"]


def test_concurrent_run_time_registrations_cannot_skip_the_compatibility_check(
    aws: Any,
) -> None:
    def definition(field_type: str) -> EventDefinition:
        return EventDefinition(
            event_name="partner.quote",
            topic=EventTopic.ACTION_REQUESTS,
            payload_schema={"type": "object", "properties": {"sku": {"type": field_type}}},
        )

    racing_client = boto3.client("dynamodb")
    raced: list[str] = []

    def other_writer_first(**_: Any) -> None:
        # another process registers an incompatible schema between our check and our write
        if not raced:
            raced.append("integer")
            RegistryClient(TABLE, dynamodb=boto3.client("dynamodb")).register_event(
                definition("integer")
            )

    racing_client.meta.events.register("before-call.dynamodb.PutItem", other_writer_first)
    with pytest.raises(IncompatibleSchemaError, match="type of field 'sku' changed"):
        RegistryClient(TABLE, dynamodb=racing_client, cache_seconds=0).register_event(
            definition("string")
        )

    event = registry().get_event("partner.quote")
    assert raced == ["integer"]
    assert event is not None and event.payload_schema is not None
    assert event.payload_schema["properties"]["sku"] == {"type": "integer"}  # not overwritten


def test_a_registration_retries_after_losing_a_race_to_a_compatible_one(aws: Any) -> None:
    schema = {"type": "object", "properties": {"sku": {"type": "string"}}}
    racing_client = boto3.client("dynamodb")
    puts: list[str] = []

    def other_writer_first(**_: Any) -> None:
        puts.append("ours")
        if len(puts) == 1:
            RegistryClient(TABLE, dynamodb=boto3.client("dynamodb")).register_event(
                EventDefinition(
                    event_name="partner.quote", topic="action-requests", payload_schema=schema
                )
            )

    racing_client.meta.events.register("before-call.dynamodb.PutItem", other_writer_first)
    record = RegistryClient(TABLE, dynamodb=racing_client).register_event(
        EventDefinition(
            event_name="partner.quote",
            topic="action-requests",
            description="with a description",
            payload_schema=schema,
        )
    )
    assert puts == ["ours", "ours"]  # the first conditional put lost, the second won
    assert record.previous_payload_schema == schema
    event = registry().get_event("partner.quote")
    assert event is not None and event.description == "with a description"


def test_sync_is_idempotent(aws: Any) -> None:
    first = sync_registry(RegistryTable(TABLE), manifests())
    second = sync_registry(TABLE, manifests())
    assert len(first.created) == 4
    assert second.created == second.updated == second.deleted == []
    assert sorted(second.unchanged) == sorted(first.created)


def test_long_failure_reasons_keep_the_response_under_4096_bytes(
    aws: Any, handler: Any, catcher: ResponseCatcher
) -> None:
    wide = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(300)}}
    narrow = {
        "type": "object",
        "properties": {f"f{i}": {"type": "integer"} for i in range(300)},
        "required": [f"f{i}" for i in range(300)],
    }

    def with_schema(schema: dict[str, Any]) -> dict[str, Any]:
        agent = Agent(
            "wide",
            events_consumed=[
                EventDefinition(
                    event_name="wide.thing", topic="business-facts", payload_schema=schema
                )
            ],
        )
        return properties([agent.manifest()])

    handler(request("Create", catcher.url(), with_schema(wide)), None)
    physical_id = catcher.bodies[-1]["PhysicalResourceId"]
    handler(
        request(
            "Update",
            catcher.url(),
            with_schema(narrow),
            old=with_schema(wide),
            physical_id=physical_id,
        ),
        None,
    )
    failed = catcher.bodies[-1]
    assert failed["Status"] == "FAILED"
    assert len(json.dumps(failed).encode()) <= 4096
    assert failed["Reason"].startswith("the registry refuses the new manifests: event 'wide.thing'")


# ---- every request is answered, before the deadline, and the answer is retried -----------------


@pytest.mark.parametrize("field", ["LogicalResourceId", "RequestId", "StackId", "RequestType"])
def test_a_request_missing_a_field_is_answered_failed(
    aws: Any, handler: Any, catcher: ResponseCatcher, field: str
) -> None:
    malformed = request("Create", catcher.url(), properties(manifests()))
    del malformed[field]

    returned = handler(malformed, None)

    [answer] = catcher.bodies
    assert answer == returned
    assert answer["Status"] == "FAILED"
    assert f"the request lacks {field}" in answer["Reason"]
    assert registry().all_events() == []  # nothing synced


def test_a_request_without_a_response_url_is_refused_without_a_sync(
    aws: Any, handler: Any, catcher: ResponseCatcher
) -> None:
    malformed = request("Create", catcher.url(), properties(manifests()))
    del malformed["ResponseURL"]
    returned = handler(malformed, None)
    assert returned["Status"] == "FAILED" and "ResponseURL" in returned["Reason"]
    assert catcher.attempts == 0 and registry().all_events() == []


def test_a_failed_upload_is_retried_with_backoff(aws: Any, catcher: ResponseCatcher) -> None:
    catcher.failures = [500, 503]
    waits: list[float] = []

    sent = handle_and_respond(
        request("Create", catcher.url(), properties(manifests())), sleep=waits.append
    )

    assert catcher.attempts == 3
    assert catcher.bodies == [sent] and sent["Status"] == "SUCCESS"
    assert waits == [0.5, 1.0]


def test_uploads_stop_after_the_last_attempt(aws: Any, catcher: ResponseCatcher) -> None:
    catcher.failures = [500] * 10
    waits: list[float] = []
    with pytest.raises(ResponseUploadError, match=r"after 5 attempt\(s\): HTTPError"):
        handle_and_respond(
            request("Create", catcher.url(), properties(manifests())), sleep=waits.append
        )
    assert catcher.attempts == UPLOAD_ATTEMPTS
    assert waits == [0.5, 1.0, 2.0, 4.0]


def test_a_client_error_is_not_retried(catcher: ResponseCatcher) -> None:
    catcher.failures = [403]  # an expired presigned URL
    with pytest.raises(ResponseUploadError, match="after 1 attempt"):
        send_with_retries(catcher.url(), b"{}", sleep=lambda _: None)
    assert catcher.attempts == 1


def test_retries_never_run_past_the_deadline(catcher: ResponseCatcher) -> None:
    catcher.failures = [500, 500]
    with pytest.raises(ResponseUploadError, match="after 1 attempt"):
        send_with_retries(catcher.url(), b"{}", sleep=lambda _: None, seconds_left=lambda: 3.0)
    assert catcher.attempts == 1


def test_a_sync_still_running_near_the_deadline_is_answered_failed_once(
    aws: Any, catcher: ResponseCatcher
) -> None:
    slow = boto3.client("dynamodb")
    # the sync's first DynamoDB call waits until CloudFormation has received an answer
    slow.meta.events.register("before-call.dynamodb.*", lambda **_: catcher.received.wait(30))
    remaining_ms = int(RESPONSE_RESERVE_SECONDS * 1000)  # the watchdog is due at once

    returned = handle_and_respond(
        request("Create", catcher.url(), properties(manifests())),
        dynamodb=slow,
        remaining_ms=lambda: remaining_ms,
    )

    [answer] = catcher.bodies  # the sync's own (later) answer was not sent
    assert returned == answer
    assert answer["Status"] == "FAILED"
    assert answer["Reason"] == "the registry sync did not finish before the function's deadline"
    assert answer["PhysicalResourceId"].endswith(":create-failed")
