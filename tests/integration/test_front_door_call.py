"""`POST /call` on moto with API Gateway HTTP API payload 2.0 events: the request is published as
`/events` publishes, the calculator Tool (run by the moto harness with the event log agent)
answers, and the reply read from the event log is the 200 answer; with no reply within the bound
the answer is 202 with where to look. Time is the test's: the wait's clock and sleep are
replaced, so nothing here waits on the wall clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_front_door import TENANT_CLAIM, FrontDoor, http_event

from soorma.manifests.discovery import import_handler_module
from soorma_dev.harness import LambdaContextStub, MotoHarness

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
CALCULATOR = ROOT / "examples" / "calculator-tool" / "calculator"

ADD = {"event_type": "math.add", "topic": "action-requests", "data": {"a": 2, "b": 3}}
#: A request no agent handles: no reply ever comes.
UNHEARD = {"event_type": "nobody.listens", "topic": "action-requests", "data": {}}


class FakeTime:
    """The wait's clock: `sleep` advances it, and runs `on_sleep` (the agents' turn)."""

    def __init__(self, on_sleep: Callable[[], object] = lambda: None) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep()


@pytest.fixture
def platform(soorma_moto: Callable[..., MotoHarness]) -> MotoHarness:
    return soorma_moto(FUNCTIONS / "event_log", CALCULATOR)


@pytest.fixture
def handler_module(platform: MotoHarness) -> ModuleType:
    return import_handler_module(FUNCTIONS / "front_door")


@pytest.fixture
def door_calls(handler_module: ModuleType) -> dict[str, Any]:
    """The globals of the handler's `door_calls` module (imported beside the handler)."""
    namespace: dict[str, Any] = handler_module.await_reply.__globals__
    return namespace


@pytest.fixture
def time_of_the_test(
    platform: MotoHarness, door_calls: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeTime]:
    fake = FakeTime(on_sleep=platform.run_until_idle)
    monkeypatch.setitem(door_calls, "clock", fake.clock)
    monkeypatch.setitem(door_calls, "sleep", fake.sleep)
    yield fake


def call(
    handler_module: ModuleType,
    body: Any,
    *,
    tenant: str = "acme",
    timeout_ms: int = 30_000,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    text = body if isinstance(body, str) else json.dumps(body)
    event = http_event(
        "POST",
        "/call",
        body=text,
        claims={"sub": "ada", TENANT_CLAIM: tenant},
        headers=headers,
    )
    response = handler_module.handler(
        event, LambdaContextStub("soorma-test-front-door", timeout_ms=timeout_ms)
    )
    answered = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return response["statusCode"], json.loads(response["body"]), answered


def test_the_reply_is_the_answer(
    platform: MotoHarness, handler_module: ModuleType, time_of_the_test: FakeTime
) -> None:
    status, body, headers = call(
        handler_module,
        {**ADD, "response_event": "math.answered"},
        headers={"X-Correlation-ID": "c-1"},
    )

    assert status == 200, body
    assert body["correlation_id"] == headers["x-correlation-id"] == "c-1"
    [request] = [e for e in platform.published if e.type == "math.add"]
    assert (request.source, request.tenant_id, request.user_id) == (
        "soorma.front-door",
        "acme",
        "ada",
    )
    assert request.response_event == "math.answered"
    reply = body["reply"]
    assert reply["type"] == "math.answered"
    assert reply["data"] == {"success": True, "result": 5}
    assert reply["source"] == "soorma.calculator"
    assert reply["causationid"] == request.id
    assert reply["correlationid"] == "c-1"
    assert time_of_the_test.slept  # it waited (on the test's clock) until the Tool answered

    status, workflow, _ = FrontDoor(handler_module).workflow("c-1")
    assert status == 200
    assert [e["type"] for e in workflow["events"]] == ["math.add", "math.answered"]


def test_no_reply_within_the_bound_is_a_202_with_where_to_look(
    platform: MotoHarness,
    handler_module: ModuleType,
    time_of_the_test: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOORMA_FRONT_DOOR_CALL_SECONDS", "0.5")
    status, body, headers = call(handler_module, {**UNHEARD, "response_event": "nobody.answered"})

    assert status == 202, body
    [request] = [e for e in platform.published if e.type == "nobody.listens"]
    assert body == {
        "correlation_id": request.correlation_id,
        "request_id": request.id,
        "status_url": f"/workflows/{request.correlation_id}",
    }
    assert headers["x-correlation-id"] == request.correlation_id
    assert sum(time_of_the_test.slept) == pytest.approx(0.5)  # the bound, on the test's clock


def test_the_wait_stays_inside_the_functions_remaining_time(handler_module: ModuleType) -> None:
    call_seconds = handler_module.call_seconds
    assert call_seconds({}) == 25.0
    assert call_seconds({"SOORMA_FRONT_DOOR_CALL_SECONDS": "5"}) == 5.0
    assert call_seconds({"SOORMA_FRONT_DOOR_CALL_SECONDS": "300"}) == 27.0
    assert call_seconds({}, remaining_ms=10_000) == 7.0
    assert call_seconds({}, remaining_ms=1_000) == 0.0
    with pytest.raises(RuntimeError, match="not a number of seconds"):
        call_seconds({"SOORMA_FRONT_DOOR_CALL_SECONDS": "soon"})


def test_a_lambda_nearly_out_of_time_answers_202_at_once(
    platform: MotoHarness, handler_module: ModuleType, time_of_the_test: FakeTime
) -> None:
    status, body, _ = call(
        handler_module, {**UNHEARD, "response_event": "nobody.answered"}, timeout_ms=2_000
    )
    assert status == 202, body
    assert time_of_the_test.slept == []


@pytest.mark.parametrize(
    ("request_body", "tenant_field", "status", "field", "words"),
    [
        (ADD, None, 400, "response_event", "response_event is missing"),
        ("{not json", None, 400, None, "not JSON"),
        (
            {**ADD, "response_event": "math.answered", "tenant_id": "globex"},
            None,
            400,
            "tenant_id",
            "come from the caller's credentials",
        ),
        (
            {**ADD, "response_event": "math.answered", "userid": "root"},
            None,
            400,
            "userid",
            "come from the caller's credentials",
        ),
        ({**ADD, "response_event": "bad event!"}, None, 400, "response_event", "response_event"),
        (
            {**ADD, "topic": "plan-events", "response_event": "math.answered"},
            None,
            403,
            "topic",
            "not open",
        ),
    ],
)
def test_refusals_publish_nothing_and_never_wait(
    platform: MotoHarness,
    handler_module: ModuleType,
    time_of_the_test: FakeTime,
    request_body: Any,
    tenant_field: str | None,
    status: int,
    field: str | None,
    words: str,
) -> None:
    got, body, _ = call(handler_module, request_body)

    assert got == status, body
    assert words in body["error"]
    assert body.get("field") == field
    assert platform.published == []
    assert time_of_the_test.slept == []


def test_a_caller_without_a_tenant_claim_cannot_call(
    platform: MotoHarness, handler_module: ModuleType
) -> None:
    event = http_event(
        "POST",
        "/call",
        body=json.dumps({**ADD, "response_event": "math.answered"}),
        claims={"sub": "ada"},
    )
    response = handler_module.handler(event, LambdaContextStub("soorma-test-front-door"))
    assert response["statusCode"] == 403
    assert platform.published == []
