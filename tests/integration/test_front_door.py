"""The front door (`functions/front_door`) on moto, driven with API Gateway HTTP API payload 2.0
events: every refusal is a clear 4xx JSON answer, a published event is read back through
`GET /workflows/{id}` once the event log stored it, and no caller reaches another tenant."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from soorma import Worker
from soorma.manifests.discovery import import_handler_module
from soorma_common import EventDefinition
from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.harness import LambdaContextStub, MotoHarness

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
TENANT_CLAIM = "custom:tenant_id"

ORDER_PLACED = EventDefinition(
    event_name="order.placed",
    topic=EventTopic.BUSINESS_FACTS,
    payload_schema={
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "total": {"type": "number", "minimum": 0}},
        "required": ["order_id", "total"],
    },
)

shop = Worker("shop", events_consumed=[ORDER_PLACED], events_produced=[])


@shop.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def order_placed(event: EventEnvelope, context: Any) -> None:
    """Consumes the orders the front door lets in."""


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    iam: bool = False,
    path_parameters: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for a Lambda proxy integration, as in
    the API Gateway developer guide ("Working with AWS Lambda proxy integrations for HTTP APIs"):
    header names lower-cased, the body a string (base64 when `isBase64Encoded`), the caller in
    `requestContext.authorizer` (`jwt.claims` for a JWT authorizer, `iam` for SigV4)."""
    raw = body.encode() if isinstance(body, str) else body
    authorizer: dict[str, Any] = {}
    if claims is not None:
        authorizer["jwt"] = {"claims": claims, "scopes": None}
    if iam:
        authorizer["iam"] = {
            "accountId": "123456789012",
            "callerId": "AIDACKCEVSQ6C2EXAMPLE",
            "userArn": "arn:aws:iam::123456789012:user/ops",
            "userId": "AIDACKCEVSQ6C2EXAMPLE",
        }
    request_headers = {
        "accept": "application/json",
        "content-type": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "pytest",
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": request_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route or f"{method} {path}",
            "stage": "$default",
            "time": "03/Dec/2026:07:00:00 +0000",
            "timeEpoch": 1796281200000,
        },
        "isBase64Encoded": base64_body,
    }
    if authorizer:
        event["requestContext"]["authorizer"] = authorizer
    if path_parameters:
        event["pathParameters"] = path_parameters
    if raw is not None:
        event["body"] = base64.b64encode(raw).decode() if base64_body else raw.decode()
    return event


class FrontDoor:
    """The front door's handler in this process, with a caller's claims."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(self, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        response = self.module.handler(event, LambdaContextStub("soorma-test-front-door"))
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        return response["statusCode"], json.loads(response["body"]), headers

    def post(
        self, body: Any, *, tenant: str | None = "acme", user: str = "ada", **options: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        text = body if isinstance(body, str | bytes) else json.dumps(body)
        claims = options.pop("claims", None)
        if claims is None and not options.get("iam"):
            claims = {"sub": user, **({TENANT_CLAIM: tenant} if tenant else {})}
        return self.call(http_event("POST", "/events", body=text, claims=claims, **options))

    def workflow(
        self, correlation_id: str, *, tenant: str = "acme"
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        return self.call(
            http_event(
                "GET",
                f"/workflows/{correlation_id}",
                route="GET /workflows/{correlation_id}",
                claims={"sub": "ada", TENANT_CLAIM: tenant},
                path_parameters={"correlation_id": correlation_id},
            )
        )


@pytest.fixture
def platform(soorma_moto: Callable[..., MotoHarness]) -> MotoHarness:
    return soorma_moto(FUNCTIONS / "event_log", shop)


@pytest.fixture
def door(platform: MotoHarness) -> Iterator[FrontDoor]:
    yield FrontDoor(import_handler_module(FUNCTIONS / "front_door"))


ORDER = {"event_type": "order.placed", "topic": "business-facts"}


def test_a_published_event_is_read_back_as_the_callers_workflow(
    platform: MotoHarness, door: FrontDoor
) -> None:
    status, body, headers = door.post({**ORDER, "data": {"order_id": "o-1", "total": 12.5}})

    assert status == 202, body
    correlation_id = body["correlation_id"]
    assert headers["x-correlation-id"] == correlation_id
    uuid.UUID(correlation_id)  # minted
    [published] = platform.published
    assert published.id == body["event_id"]
    assert published.source == "soorma.front-door"
    assert (published.tenant_id, published.user_id) == ("acme", "ada")
    assert published.correlation_id == correlation_id
    assert published.data == {"order_id": "o-1", "total": 12.5}
    platform.run_until_idle()
    assert [h.event_id for h in platform.handlings("shop")] == [published.id]

    status, workflow, _ = door.workflow(correlation_id)

    assert status == 200, workflow
    assert workflow["correlation_id"] == correlation_id
    assert workflow["events"] == [
        {
            "id": published.id,
            "type": "order.placed",
            "topic": "business-facts",
            "source": "soorma.front-door",
            "time": published.time.isoformat().replace("+00:00", "Z"),
            "causation_id": None,
        }
    ]
    assert (workflow["status"], workflow["plans"], workflow["failed_replies"]) == ("open", [], [])


def test_a_workflow_lists_its_plans_failed_replies_and_dead_letters_in_order(
    platform: MotoHarness, door: FrontDoor
) -> None:
    _, first, _ = door.post(
        {**ORDER, "data": {"order_id": "o-2", "total": 1}},
        headers={"X-Correlation-ID": "order-o-2"},
    )
    assert first["correlation_id"] == "order-o-2"
    common = {"correlation_id": "order-o-2", "tenant_id": "acme", "user_id": "ada"}
    started = EventEnvelope(
        source="soorma.planner",
        type="plan.started",
        topic="plan-events",
        data={"plan_id": "p-1", "state": "start"},
        plan_id="p-1",
        causation_id=first["event_id"],
        **common,
    )
    failed = EventEnvelope(
        source="soorma.planner",
        type="plan.failed",
        topic="plan-events",
        data={"plan_id": "p-1", "status": "failed", "state": "start"},
        plan_id="p-1",
        causation_id=started.id,
        **common,
    )
    reply = EventEnvelope(
        source="soorma.stock",
        type="stock.reserved",
        topic="action-results",
        data={"success": False, "error": "out of stock"},
        reply_to="planner",
        causation_id=started.id,
        **common,
    )
    loop = EventEnvelope(
        source="soorma.stock",
        type="agent.loop_detected",
        topic="system-events",
        data={"agent": "stock", "event_id": "e-9", "event_type": "x.y", "reason": "hop 101"},
        causation_id="e-9",
        **common,
    )
    for envelope in (started, failed, reply, loop):
        platform.put(envelope)
    platform.run_until_idle()

    status, workflow, _ = door.workflow("order-o-2")

    assert status == 200
    assert [e["type"] for e in workflow["events"]] == [
        "order.placed",
        "plan.started",
        "plan.failed",
        "stock.reserved",
        "agent.loop_detected",
    ]
    assert workflow["events"][1]["causation_id"] == first["event_id"]  # in time order
    [plan] = workflow["plans"]
    assert (plan["plan_id"], plan["status"], plan["last_event"]) == ("p-1", "failed", "plan.failed")
    assert workflow["failed_replies"] == [
        {
            "id": reply.id,
            "type": "stock.reserved",
            "source": "soorma.stock",
            "causation_id": started.id,
            "error": "out of stock",
        }
    ]
    assert workflow["dead_lettered"][0]["event_id"] == "e-9"
    assert workflow["status"] == "failed"


def test_a_tenant_sees_only_its_own_events_and_never_anothers_workflow(
    platform: MotoHarness, door: FrontDoor
) -> None:
    data = {"order_id": "o-3", "total": 3}
    _, mine, _ = door.post({**ORDER, "data": data}, headers={"X-Correlation-ID": "shared-1"})
    # another tenant names the same correlation id: its event joins no workflow of ours
    _, theirs, _ = door.post(
        {**ORDER, "data": data}, tenant="globex", headers={"X-Correlation-ID": "shared-1"}
    )
    _, private, _ = door.post({**ORDER, "data": data}, tenant="globex")
    platform.run_until_idle()

    _, acme, _ = door.workflow("shared-1", tenant="acme")
    _, globex, _ = door.workflow("shared-1", tenant="globex")
    status, refused, _ = door.workflow(private["correlation_id"], tenant="acme")

    assert [e["id"] for e in acme["events"]] == [mine["event_id"]]
    assert [e["id"] for e in globex["events"]] == [theirs["event_id"]]
    assert status == 404
    assert refused["field"] == "correlation_id"
    assert "no workflow" in refused["error"]


def test_a_forged_tenant_in_the_body_is_refused_and_nothing_is_published(
    platform: MotoHarness, door: FrontDoor
) -> None:
    for forged in ({"tenant_id": "globex"}, {"user_id": "root"}, {"tenantid": "globex"}):
        status, body, _ = door.post({**ORDER, "data": {"order_id": "o", "total": 1}, **forged})
        assert status == 400
        assert body["field"] == next(iter(forged))
        assert "come from the caller's credentials" in body["error"]
    assert platform.published == []


@pytest.mark.parametrize(
    ("request_body", "status", "field", "words"),
    [
        ("{not json", 400, None, "not JSON"),
        ("[1, 2]", 400, "(body)", "must be a JSON object"),
        ("", 400, None, "body is empty"),
        ({"topic": "business-facts"}, 400, "event_type", "event_type is missing"),
        ({"event_type": "order.placed"}, 400, "topic", "topic is missing"),
        ({**ORDER, "topic": "orders"}, 400, "topic", "unknown topic 'orders'"),
        ({**ORDER, "topic": "plan-events"}, 403, "topic", "not open to the front door"),
        ({**ORDER, "event_type": "order placed!"}, 400, "event_type", "invalid event type"),
        ({**ORDER, "event_type": 7}, 400, "event_type", "not a string"),
        ({**ORDER, "data": {"order_id": "o"}}, 422, "data.total", "'total' = missing"),
        ({**ORDER, "data": {"order_id": "o", "total": -1}}, 422, "data.total", "minimum"),
        ({**ORDER, "topic": "action-requests"}, 400, "topic", "registered on topic"),
        ({**ORDER, "sesion_id": "s"}, 400, "sesion_id", "unknown field(s) sesion_id"),
        ({**ORDER, "correlation_id": "c"}, 400, "correlation_id", "X-Correlation-ID header"),
        ({**ORDER, "response_event": "not ok!"}, 400, "response_event", "response_event"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_publishes_nothing(
    platform: MotoHarness,
    door: FrontDoor,
    request_body: Any,
    status: int,
    field: str | None,
    words: str,
) -> None:
    got, body, _ = door.post(request_body)

    assert got == status, body
    assert words in body["error"]
    assert body.get("field") == field
    assert platform.published == []


def test_an_invalid_correlation_header_is_refused(platform: MotoHarness, door: FrontDoor) -> None:
    status, body, _ = door.post(
        {**ORDER, "data": {"order_id": "o", "total": 1}},
        headers={"X-Correlation-ID": "a b/../c"},
    )
    assert (status, body["field"]) == (400, "X-Correlation-ID")
    assert "invalid correlation id 'a b/../c'" in body["error"]
    status, body, _ = door.workflow("bad id!")
    assert (status, body["field"]) == (400, "correlation_id")


def test_a_caller_without_a_tenant_claim_is_refused(platform: MotoHarness, door: FrontDoor) -> None:
    status, body, _ = door.post({**ORDER, "data": {"order_id": "o", "total": 1}}, tenant=None)
    assert (status, body["field"]) == (403, TENANT_CLAIM)
    assert "no 'custom:tenant_id' claim" in body["error"]
    status, body, _ = door.post(
        {**ORDER, "data": {"order_id": "o", "total": 1}}, claims={"sub": "x", TENANT_CLAIM: "a#b"}
    )
    assert status == 403
    assert platform.published == []


def test_claim_names_are_configurable_and_iam_callers_get_the_default_tenant(
    platform: MotoHarness, door: FrontDoor, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = {**ORDER, "data": {"order_id": "o", "total": 1}}
    monkeypatch.setenv("SOORMA_FRONT_DOOR_TENANT_CLAIM", "org")
    monkeypatch.setenv("SOORMA_FRONT_DOOR_USER_CLAIM", "email")
    status, _, _ = door.post(order, claims={"org": "initech", "email": "pm@initech.test"})
    assert status == 202
    monkeypatch.setenv("SOORMA_FRONT_DOOR_AUTH", "iam")
    status, body, _ = door.post(order, iam=True)
    assert (status, body["field"]) == (403, "SOORMA_FRONT_DOOR_DEFAULT_TENANT")
    monkeypatch.setenv("SOORMA_FRONT_DOOR_DEFAULT_TENANT", "ops")
    assert door.post(order, iam=True)[0] == 202
    # a JWT-only request (no signature) is not an IAM caller
    assert door.post(order, claims={"org": "initech"})[0] == 403

    published = platform.published
    assert [(e.tenant_id, e.user_id) for e in published] == [
        ("initech", "pm@initech.test"),
        ("ops", None),
    ]


def test_a_body_over_the_event_size_limit_is_refused_before_parsing(
    platform: MotoHarness, door: FrontDoor
) -> None:
    from soorma.config import settings

    limit = settings().max_event_bytes
    huge = json.dumps({**ORDER, "data": {"order_id": "x" * limit, "total": 1}})
    status, body, _ = door.post(huge)
    assert (status, body["field"]) == (413, "(body)")
    assert f"over the {limit}-byte limit" in body["error"]
    # just under the limit as a body, over it as an envelope (the envelope adds attributes)
    near = {**ORDER, "data": {"order_id": "x" * (limit - 200), "total": 1}}
    status, body, _ = door.post(near)
    assert status == 413, body
    assert "SOORMA_MAX_EVENT_BYTES" in body["error"]
    assert platform.published == []


def test_a_base64_body_and_optional_attributes_are_accepted(
    platform: MotoHarness, door: FrontDoor
) -> None:
    status, body, _ = door.post(
        {
            **ORDER,
            "data": {"order_id": "o-4", "total": 4},
            "session_id": "s-1",
            "response_event": "order.acknowledged",
        },
        base64_body=True,
    )
    assert status == 202, body
    [published] = platform.published
    assert (published.session_id, published.response_event) == ("s-1", "order.acknowledged")


def test_the_role_reads_the_partitions_the_event_log_writes() -> None:
    from soorma.event_log import PARTITION_PREFIX
    from soorma_common.front_door import WORKFLOW_PARTITIONS

    assert f"{PARTITION_PREFIX}*" == WORKFLOW_PARTITIONS


def test_an_unknown_route_is_a_json_404(door: FrontDoor) -> None:
    status, body, _ = door.call(http_event("GET", "/nowhere", claims={TENANT_CLAIM: "acme"}))
    assert status == 404
    assert "no route GET /nowhere" in body["error"]


def test_platform_faults_are_json_500s_never_bad_input(
    platform: MotoHarness, door: FrontDoor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soorma.registry.schemas import InvalidSchemaError

    order = {**ORDER, "data": {"order_id": "o", "total": 1}}

    def broken(event_type: str, data: Any) -> None:
        raise InvalidSchemaError(f"event {event_type!r}: payload schema: 'type' is not a type")

    monkeypatch.setattr(door.module._registry(), "validator", broken)
    status, body, _ = door.post(order)
    assert status == 500
    assert "registered schema is broken" in body["error"]

    def unreachable() -> Any:
        raise ConnectionError("endpoint down")

    monkeypatch.setattr(door.module, "_registry", unreachable)
    status, body, _ = door.post(order)
    assert status == 500
    assert "front door failed (ConnectionError)" in body["error"]
    assert platform.published == []
