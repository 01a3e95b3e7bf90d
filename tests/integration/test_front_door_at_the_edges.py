"""The front door (`functions/front_door`) at its edges, as AWS draws them and as a hostile or
careless caller reaches them, through the handler's public entry (API Gateway HTTP API payload
2.0 events) on moto:

- the body as API Gateway delivers it: absent, empty, not a JSON object, labelled with another
  content type, base64 that is not base64 or not UTF-8, text JSON cannot carry to the bus (lone
  surrogates), nesting deeper than the encoders go;
- size: UTF-8 bytes, not characters; the exact `SOORMA_MAX_EVENT_BYTES` boundary of a body; an
  envelope under Soorma's limit but over EventBridge's 256 KB PutEvents entry limit (Source +
  DetailType + Detail); a multi-megabyte body refused before it is parsed;
- names and ids: event types and topics at and past their rules, envelope attributes a caller
  may not set (id, source, causation, hops, deadlines, tenancy), `X-Correlation-ID` and the
  workflow path id (traversal, encoding, length, unicode), memory-key ids (`plan_id`,
  `session_id`);
- tenancy: spoofing through headers, data, extra claims, other authorizers and IAM mode; claims
  the platform cannot use; reading another tenant's workflow, including a forged event log item;
  the 1,000-event page of `GET /workflows`;
- routes and methods the API does not serve;
- `POST /call`: a caller-chosen timeout, a `response_event` or `response_topic` that is not
  allowed, and the configured wait at 0, negative, huge, infinite and not a number (the wait's
  clock is the test's: nothing waits on the wall clock);
- properties (hypothesis): any body gets a 202 or a 4xx JSON answer and publishes exactly when it
  says so; any `X-Correlation-ID` is echoed exactly or refused.

Fixtures and the payload 2.0 builder come from `test_front_door` / `test_front_door_call`. A
table of cases runs in one test (one moto platform) and compares every `(status, field)` at
once, so a failure lists all the cases that differ. Each defect found is kept as a strict xfail
whose reason says what is wrong and where the fix goes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import test_front_door
import test_front_door_call
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_front_door import FUNCTIONS, ORDER, TENANT_CLAIM, FrontDoor, http_event
from test_front_door_call import ADD, CALCULATOR, UNHEARD, FakeTime, call

from soorma import clients
from soorma.config import settings as soorma_settings
from soorma.manifests.discovery import import_handler_module
from soorma.publishing import MAX_PUT_EVENTS_REQUEST_BYTES
from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.harness import MotoHarness

# The fixtures of those modules, shared by name: the shop platform with the event log and the
# front door (`platform`, `door`); the handler module, its `door_calls` globals and the wait's
# clock for `POST /call` (`handler_module`, `door_calls`, `time_of_the_test`).
platform = test_front_door.platform
door = test_front_door.door
handler_module = test_front_door_call.handler_module
door_calls = test_front_door_call.door_calls
time_of_the_test = test_front_door_call.time_of_the_test

#: An unregistered fact: no schema applies, so only the front door's own rules judge it.
NOTED = {"event_type": "order.noted", "topic": "business-facts"}
SOURCE = "soorma.front-door"
PROPERTY = settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)


def limit() -> int:
    """The event size limit the function runs with (`SOORMA_MAX_EVENT_BYTES`, 256 KB)."""
    return soorma_settings().max_event_bytes


Answer = tuple[int, dict[str, Any], dict[str, str]]


def outcome(answer: Answer) -> tuple[int, str | None]:
    """`(status, field)` of an answer, once checked to be JSON and, when it is a refusal, to hold
    a non-empty `error` and nothing but `error` and `field`."""
    status, body, headers = answer
    assert headers["content-type"] == "application/json", headers
    if status >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body
        assert set(body) <= {"error", "field"}, body
    return status, body.get("field")


def assert_refused(answer: Answer, status: int, field: str | None) -> dict[str, Any]:
    """Check a refusal: the status, a non-empty error message, the field (None: no field); return
    the body."""
    assert outcome(answer) == (status, field), answer[1]
    return answer[1]


def seed_log(items: list[dict[str, Any]]) -> None:
    """Write event log items straight into the events table (as another writer would)."""
    table = soorma_settings().events_table
    dynamodb = clients.client("dynamodb")
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: batch})


@pytest.fixture
def log_item() -> Callable[[EventEnvelope], dict[str, Any]]:
    """The event log's own item builder (`functions/event_log`), so seeded items have its
    layout."""
    module = import_handler_module(FUNCTIONS / "event_log")
    return lambda envelope: module.log_item(envelope, time.time())


@pytest.fixture
def calculator(soorma_moto: Callable[..., MotoHarness]) -> MotoHarness:
    """The calculator Tool (answers `math.add`) and the event log, on moto."""
    return soorma_moto(FUNCTIONS / "event_log", CALCULATOR)


@pytest.fixture
def calculator_door(calculator: MotoHarness) -> Iterator[FrontDoor]:
    """The front door in front of the calculator platform."""
    yield FrontDoor(import_handler_module(FUNCTIONS / "front_door"))


# ---- the body as API Gateway delivers it -------------------------------------------------------

CLAIMS = {TENANT_CLAIM: "acme", "sub": "ada"}


def post_event(text: str | bytes | None, *, base64_body: bool = False) -> dict[str, Any]:
    """A payload 2.0 `POST /events` of the caller acme/ada carrying `text` as its body."""
    return http_event("POST", "/events", body=text, claims=CLAIMS, base64_body=base64_body)


def test_a_body_that_is_not_one_json_object_is_a_400(
    platform: MotoHarness, door: FrontDoor
) -> None:
    empty_base64 = post_event(None)
    empty_base64["body"], empty_base64["isBase64Encoded"] = "", True
    cases: dict[str, tuple[dict[str, Any], str | None, str]] = {
        "no body": (post_event(None), None, "body is empty"),
        "empty": (post_event(""), None, "body is empty"),
        "empty base64": (empty_base64, None, "body is empty"),
        "white space": (post_event("   \n"), None, "not JSON"),
        "null": (post_event("null"), "(body)", "not a NoneType"),
        "true": (post_event("true"), "(body)", "not a bool"),
        "number": (post_event("42"), "(body)", "not a int"),
        "string": (post_event('"order.noted"'), "(body)", "not a str"),
        "empty array": (post_event("[]"), "(body)", "not a list"),
        "array of bodies": (post_event(json.dumps([NOTED])), "(body)", "not a list"),
        "truncated": (post_event('{"event_type": "order.noted"'), None, "not JSON"),
        "two objects": (post_event(json.dumps(NOTED) * 2), None, "not JSON"),
        "byte order mark": (post_event("\ufeff" + json.dumps(NOTED)), None, "not JSON"),
        "form post": (post_event("event_type=order.noted&topic=business-facts"), None, "not JSON"),
        "zip in base64": (post_event(b"PK\x03\x04", base64_body=True), None, "not JSON"),
    }
    answers = {name: door.call(event) for name, (event, _, _) in cases.items()}
    assert {name: outcome(a) for name, a in answers.items()} == {
        name: (400, field) for name, (_, field, _) in cases.items()
    }
    assert {name: words in answers[name][1]["error"] for name, (_, _, words) in cases.items()} == {
        name: True for name in cases
    }
    assert platform.published == []


def test_a_body_is_judged_by_its_content_not_its_content_type(
    platform: MotoHarness, door: FrontDoor
) -> None:
    labelled = post_event(json.dumps(NOTED))
    labelled["headers"]["content-type"] = "text/plain; charset=utf-8"
    unlabelled = post_event(json.dumps(NOTED))
    del unlabelled["headers"]["content-type"]
    lying = post_event("<order/>")  # says application/json; is not
    assert outcome(door.call(labelled)) == (202, None)
    assert outcome(door.call(unlabelled)) == (202, None)
    assert outcome(door.call(lying)) == (400, None)
    assert [e.type for e in platform.published] == ["order.noted", "order.noted"]


def test_a_base64_body_that_cannot_be_decoded_is_a_400(
    platform: MotoHarness, door: FrontDoor
) -> None:
    not_base64 = post_event(None)
    # 9 base64 characters once the junk is dropped: impossible padding
    not_base64["body"], not_base64["isBase64Encoded"] = "!!!not base64", True
    not_utf8 = post_event(b'\xff\xfe{"event_type": "order.noted"}', base64_body=True)
    got = {"not base64": outcome(door.call(not_base64)), "not UTF-8": outcome(door.call(not_utf8))}
    assert got == {"not base64": (400, "(body)"), "not UTF-8": (400, "(body)")}
    assert platform.published == []


def test_data_with_a_lone_surrogate_is_a_400_naming_data(
    platform: MotoHarness, door: FrontDoor
) -> None:
    text = json.dumps({**NOTED, "data": {"name": "\ud800"}})  # ensure_ascii: '\\ud800'
    assert_refused(door.post(text), 400, "data")
    assert platform.published == []


def test_moderately_nested_data_is_published_whole(platform: MotoHarness, door: FrontDoor) -> None:
    nested: Any = "leaf"
    for _ in range(100):
        nested = {"n": nested}
    status, body, _ = door.post({**NOTED, "data": nested})
    assert status == 202, body
    assert platform.published[0].data == nested


def test_data_nested_past_what_the_encoders_take_is_a_400(
    platform: MotoHarness, door: FrontDoor
) -> None:
    got = {}
    for depth in (300, 5_000):
        text = json.dumps(NOTED)[:-1] + ', "data": ' + "[" * depth + "]" * depth + "}"
        got[depth] = outcome(door.post(text))
    assert got == {300: (400, "data"), 5_000: (400, "(body)")}  # past json.loads itself
    assert platform.published == []


# ---- size ---------------------------------------------------------------------------------------


def test_a_body_at_the_limit_is_read_and_past_it_is_refused_unread(
    platform: MotoHarness, door: FrontDoor
) -> None:
    text = json.dumps({**NOTED, "data": {"n": 1}})
    at_limit = text + " " * (limit() - len(text))  # JSON allows trailing white space
    status, body, _ = door.post(at_limit)
    assert status == 202, body  # the padding is not part of the envelope
    refused = assert_refused(door.post(at_limit + " "), 413, "(body)")
    assert f"the body is {limit() + 1} bytes, over the {limit()}-byte limit" in refused["error"]
    # 5 MB of '[' would exhaust the JSON decoder's recursion: only an unread body answers 413
    refused = assert_refused(door.post("[" * 5_000_000), 413, "(body)")
    assert "5000000 bytes" in refused["error"]
    assert "SOORMA_MAX_EVENT_BYTES" in refused["error"]
    assert len(platform.published) == 1


def test_size_is_counted_in_utf8_bytes_not_characters(
    platform: MotoHarness, door: FrontDoor
) -> None:
    cases = {
        "120,000 é: 240,000 bytes": ("é", 120_000, 202),
        "140,000 é: 280,000 bytes": ("é", 140_000, 413),
        "70,000 😀: 280,000 bytes": ("😀", 70_000, 413),
    }
    got: dict[str, tuple[int, str | None]] = {}
    for name, (character, count, _) in cases.items():
        text = json.dumps({**NOTED, "data": {"note": character * count}}, ensure_ascii=False)
        assert len(text) < limit()  # under the limit in characters, every one of them
        got[name] = outcome(answer := door.post(text))
        if answer[0] == 413:
            assert f"{len(text.encode())} bytes" in answer[1]["error"]
    assert got == {
        name: (status, None if status == 202 else "(body)")
        for name, (_, _, status) in cases.items()
    }
    [published] = platform.published
    assert len(published.to_json().encode()) <= limit()


def test_an_envelope_under_soormas_limit_but_over_eventbridges_entry_limit_is_a_413(
    platform: MotoHarness, door: FrontDoor
) -> None:
    # EventBridge counts Source + DetailType + Detail: an envelope a few bytes under
    # SOORMA_MAX_EVENT_BYTES (262,144) still makes an entry over 262,143 bytes.
    correlation = "edge-entry-size"
    probe = EventEnvelope(
        source=SOURCE,
        type="order.noted",
        topic=EventTopic.BUSINESS_FACTS,
        data={"pad": ""},
        correlation_id=correlation,
        tenant_id="acme",
        user_id="ada",
    )
    overhead = len(probe.to_json().encode())
    pad = limit() - 10 - overhead  # the envelope: 10 bytes under (17 if its time has no µs)
    assert limit() - 17 + len(SOURCE) + len("order.noted") > MAX_PUT_EVENTS_REQUEST_BYTES
    status, body, _ = door.post(
        {**NOTED, "data": {"pad": "x" * pad}}, headers={"X-Correlation-ID": correlation}
    )
    assert (status, body.get("field")) == (413, "data"), body
    assert "PutEvents entry" in body["error"]
    assert f"{MAX_PUT_EVENTS_REQUEST_BYTES}-byte limit" in body["error"]
    assert platform.published == []


def test_a_raised_soorma_limit_never_lets_an_event_past_eventbridges_256_kb(
    platform: MotoHarness, door: FrontDoor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOORMA_MAX_EVENT_BYTES", str(1024 * 1024))  # a careless operator
    soorma_settings.cache_clear()
    status, body, _ = door.post({**NOTED, "data": {"pad": "x" * 300_000}})
    assert (status, body.get("field")) == (413, "data"), body
    assert "EventBridge" in body["error"]
    assert f"{MAX_PUT_EVENTS_REQUEST_BYTES}-byte limit" in body["error"]
    assert platform.published == []


# ---- names, attributes and ids ------------------------------------------------------------------


def test_event_types_and_topics_at_and_past_their_rules(
    platform: MotoHarness, door: FrontDoor
) -> None:
    longest = "a." + "b" * 126  # 128 characters: EventBridge's DetailType limit
    cases: dict[str, tuple[dict[str, Any], int, str | None]] = {
        "type of 128": ({"event_type": longest}, 202, None),
        "type without a dot": ({"event_type": "heartbeat"}, 202, None),
        "type of 129": ({"event_type": longest + "b"}, 400, "event_type"),
        "Cyrillic a": ({"event_type": "order.pl\u0430ced"}, 400, "event_type"),
        "trailing newline": ({"event_type": "order.placed\n"}, 400, "event_type"),
        "wildcard": ({"event_type": "order.*"}, 400, "event_type"),
        "path": ({"event_type": "../order.noted"}, 400, "event_type"),
        "empty type": ({"event_type": ""}, 400, "event_type"),
        "null type": ({"event_type": None}, 400, "event_type"),
        "list type": ({"event_type": ["order.noted"]}, 400, "event_type"),
        "topic case": ({"topic": "Business-Facts"}, 400, "topic"),
        "topic space": ({"topic": " business-facts"}, 400, "topic"),
        "topic NUL": ({"topic": "business-facts\u0000"}, 400, "topic"),
        "topic list": ({"topic": ["business-facts"]}, 400, "topic"),
        "topic object": ({"topic": {"name": "business-facts"}}, 400, "topic"),
        "topic true": ({"topic": True}, 400, "topic"),
        "replies": ({"topic": "action-results"}, 403, "topic"),
        "system": ({"topic": "system-events"}, 403, "topic"),
        "subject surrogate": ({"subject": "\udc00"}, 400, "subject"),
        "subject NUL": ({"subject": "a\u0000b"}, 400, "subject"),
        "empty subject": ({"subject": ""}, 400, "subject"),
        "session number": ({"session_id": 5}, 400, "session_id"),
        "relative dataschema": ({"dataschema": "order.json"}, 400, "dataschema"),
        "unknown reply topic": ({"response_topic": "replies"}, 400, "response_topic"),
    }
    got = {name: outcome(door.post({**NOTED, **fields})) for name, (fields, _, _) in cases.items()}
    assert got == {name: (status, field) for name, (_, status, field) in cases.items()}
    assert [e.type for e in platform.published] == [longest, "heartbeat"]


def test_envelope_attributes_a_caller_may_not_set_are_refused(
    platform: MotoHarness, door: FrontDoor
) -> None:
    names = [
        *("id", "source", "specversion", "type", "time", "datacontenttype", "data_base64"),
        *("causation_id", "causationid", "reply_to", "replyto", "hop_count", "hopcount"),
        *("deadline", "trace_id", "traceid", "timeout", "idempotency_key", "Tenant_Id"),
        "tenantId",
    ]
    answers = {name: door.post({**NOTED, name: "x-1"}) for name in names}
    assert {name: outcome(a) for name, a in answers.items()} == {n: (400, n) for n in names}
    assert all(f"unknown field(s) {n}" in answers[n][1]["error"] for n in names)
    assert platform.published == []


def test_a_retried_post_is_a_new_event_and_a_caller_never_chooses_its_id(
    platform: MotoHarness, door: FrontDoor
) -> None:
    headers = {"X-Correlation-ID": "retry-1", "Idempotency-Key": "k-1"}
    order = {**ORDER, "data": {"order_id": "o-1", "total": 1}}
    first = door.post(order, headers=headers)
    again = door.post(order, headers=headers)
    assert (first[0], again[0]) == (202, 202)
    assert first[1]["event_id"] != again[1]["event_id"]  # fresh ids: nothing is overwritten
    assert_refused(door.post({**order, "id": first[1]["event_id"]}, headers=headers), 400, "id")
    platform.run_until_idle()
    handled = sorted(h.event_id for h in platform.handlings("shop"))
    assert handled == sorted([first[1]["event_id"], again[1]["event_id"]])


def test_x_correlation_id_edges(platform: MotoHarness, door: FrontDoor) -> None:
    accepted = ["a" * 128, "urn:uuid:0d1f6c1e-4a8e-4c49-9f55-5b0f1b1c2a10", "7"]
    refused = [
        *("a" * 129, "c-1,c-2", "", " c-1", "../c-1", "c-1/../../x", "c%2F1", "café"),
        *("-c-1", "c-1\u0000", "c#1", "c-1\n"),
    ]
    answers = {h: door.post(NOTED, headers={"X-Correlation-ID": h}) for h in accepted}
    for header, (_, body, headers) in answers.items():
        assert body["correlation_id"] == headers["x-correlation-id"] == header
    assert [e.correlation_id for e in platform.published] == accepted
    answers |= {h: door.post(NOTED, headers={"X-Correlation-ID": h}) for h in refused}
    assert {header: outcome(a) for header, a in answers.items()} == {
        **{header: (202, None) for header in accepted},
        **{header: (400, "X-Correlation-ID") for header in refused},
    }
    assert len(platform.published) == len(accepted)


def get_workflow(door: FrontDoor, raw_id: str, *, claims: dict[str, str] | None = None) -> Answer:
    """`GET /workflows/<raw_id>` as API Gateway passes it (the raw path, not URL-decoded)."""
    return door.call(
        http_event(
            "GET",
            f"/workflows/{raw_id}",
            route="GET /workflows/{correlation_id}",
            claims=CLAIMS if claims is None else claims,
            path_parameters={"correlation_id": raw_id},
        )
    )


def test_workflow_ids_at_and_past_the_rule(platform: MotoHarness, door: FrontDoor) -> None:
    refused = ["..", "..%2F..%2Fetc", "%2e%2e", "a%00", "café", "a" * 129, "-a", "a b", "a;b"]
    got = {raw_id: outcome(get_workflow(door, raw_id)) for raw_id in [*refused, "a" * 128]}
    assert got == {
        **{raw_id: (400, "correlation_id") for raw_id in refused},
        "a" * 128: (404, "correlation_id"),  # looked up: no such workflow
    }
    for path in ("/workflows/a/b", "/workflows/", "/workflows/a/../b"):
        body = assert_refused(door.call(http_event("GET", path, claims=CLAIMS)), 404, None)
        assert f"no route GET {path}" in body["error"]


def test_ids_that_cannot_be_memory_keys_are_refused(platform: MotoHarness, door: FrontDoor) -> None:
    cases = {
        "session with #": ("session_id", "s#1"),
        "plan with #": ("plan_id", "p#1"),
        "plan of 257": ("plan_id", "p" * 257),
        "session of 5000": ("session_id", "s" * 5000),
    }
    got = {
        case: outcome(door.post({**NOTED, name: value})) for case, (name, value) in cases.items()
    }
    assert got == {case: (400, name) for case, (name, _) in cases.items()}
    assert platform.published == []


# ---- tenancy ------------------------------------------------------------------------------------


def test_the_tenant_comes_from_the_claim_whatever_the_headers_data_and_other_claims_say(
    platform: MotoHarness, door: FrontDoor
) -> None:
    status, body, _ = door.post(
        {**NOTED, "data": {"tenant_id": "globex", "tenantid": "globex"}},
        claims={
            TENANT_CLAIM: "acme",
            "sub": "ada",
            "tenant_id": "globex",
            "custom:tenant": "globex",
            "cognito:groups": "globex-admins",
        },
        headers={
            "X-Tenant-ID": "globex",
            "X-Amzn-Oidc-Identity": "globex",
            "X-User-ID": "root",
            "Authorization": "Bearer forged",
        },
    )
    assert status == 202, body
    [published] = platform.published
    assert (published.tenant_id, published.user_id) == ("acme", "ada")
    assert published.data == {"tenant_id": "globex", "tenantid": "globex"}  # data stays data


def test_tenant_claims_at_and_past_the_identity_rule(
    platform: MotoHarness, door: FrontDoor
) -> None:
    accepted = ["t" * 256, "ünïcode-tenant"]
    refused = [
        *("t" * 257, "", " acme", "acme globex", "acme\tglobex", "acme\u0085x"),
        "acme#USER#x",  # reaching into another key space
        "[acme globex]",  # a list claim, as API Gateway renders it
    ]
    got = {
        tenant: outcome(door.post(NOTED, claims={TENANT_CLAIM: tenant, "sub": "ada"}))
        for tenant in [*accepted, *refused]
    }
    got |= {
        f"GET as {tenant!r}": outcome(get_workflow(door, "c-1", claims={TENANT_CLAIM: tenant}))
        for tenant in refused
    }
    assert got == {
        **{tenant: (202, None) for tenant in accepted},
        **{tenant: (403, TENANT_CLAIM) for tenant in refused},
        **{f"GET as {tenant!r}": (403, TENANT_CLAIM) for tenant in refused},
    }
    assert [e.tenant_id for e in platform.published] == accepted


def test_claims_with_control_characters_are_a_403(platform: MotoHarness, door: FrontDoor) -> None:
    cases = {
        "tenant NUL": ({TENANT_CLAIM: "acme\u0000", "sub": "ada"}, TENANT_CLAIM),
        "tenant DEL": ({TENANT_CLAIM: "acme\u007fx", "sub": "ada"}, TENANT_CLAIM),
        "user SOH": ({TENANT_CLAIM: "acme", "sub": "ada\u0001"}, None),
    }
    got = {case: outcome(door.post(NOTED, claims=claims)) for case, (claims, _) in cases.items()}
    assert got == {case: (403, field) for case, (_, field) in cases.items()}
    assert platform.published == []


def test_only_the_jwt_authorizer_names_a_tenant_in_jwt_mode(
    platform: MotoHarness, door: FrontDoor
) -> None:
    claims_elsewhere = http_event("POST", "/events", body=json.dumps(NOTED))
    claims_elsewhere["requestContext"]["authorizer"] = {
        "lambda": {TENANT_CLAIM: "acme", "tenant_id": "acme"}
    }
    assert_refused(door.call(claims_elsewhere), 403, TENANT_CLAIM)
    signed = http_event("POST", "/events", body=json.dumps(NOTED), iam=True)
    assert_refused(door.call(signed), 403, TENANT_CLAIM)  # IAM is off: SigV4 names no tenant
    assert platform.published == []


def test_iam_mode_ignores_claims_and_refuses_an_unusable_default_tenant(
    platform: MotoHarness, door: FrontDoor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOORMA_FRONT_DOOR_AUTH", "IAM")  # the mode's case does not matter
    monkeypatch.setenv("SOORMA_FRONT_DOOR_DEFAULT_TENANT", "ops")
    both = http_event(
        "POST", "/events", body=json.dumps(NOTED), claims={TENANT_CLAIM: "globex"}, iam=True
    )
    assert outcome(door.call(both)) == (202, None)
    unsigned = http_event("POST", "/events", body=json.dumps(NOTED), claims={TENANT_CLAIM: "ops"})
    assert_refused(door.call(unsigned), 403, None)
    monkeypatch.setenv("SOORMA_FRONT_DOOR_DEFAULT_TENANT", "ops#admin")
    assert_refused(door.post(NOTED, iam=True), 403, "SOORMA_FRONT_DOOR_DEFAULT_TENANT")
    assert [e.tenant_id for e in platform.published] == ["ops"]


def test_another_tenants_workflow_answers_exactly_as_a_missing_one(
    platform: MotoHarness, door: FrontDoor
) -> None:
    _, theirs, _ = door.post(NOTED, tenant="globex", headers={"X-Correlation-ID": "globex-1"})
    platform.run_until_idle()
    assert get_workflow(door, "globex-1", claims={TENANT_CLAIM: "globex"})[0] == 200

    taken = get_workflow(door, "globex-1")
    missing = get_workflow(door, "nobody-1")

    assert outcome(taken) == outcome(missing) == (404, "correlation_id")
    assert taken[1]["error"].replace("globex-1", "X") == missing[1]["error"].replace(
        "nobody-1", "X"
    )
    assert theirs["event_id"] not in json.dumps(taken[1])
    assert_refused(get_workflow(door, "globex-1", claims={"sub": "ada"}), 403, TENANT_CLAIM)


def test_a_log_item_whose_tenant_disagrees_with_its_envelope_is_shown_to_nobody(
    platform: MotoHarness, door: FrontDoor, log_item: Callable[[EventEnvelope], dict[str, Any]]
) -> None:
    envelope = EventEnvelope(
        source="soorma.stock",
        type="stock.counted",
        topic=EventTopic.BUSINESS_FACTS,
        data={"secret": "globex"},
        correlation_id="forged-1",
        tenant_id="globex",
    )
    item = log_item(envelope)
    item["tenant_id"] = {"S": "acme"}  # rewritten by someone else
    seed_log([item])

    for tenant in ("acme", "globex"):
        status, body, _ = get_workflow(door, "forged-1", claims={TENANT_CLAIM: tenant})
        assert status == 404, body
        assert "secret" not in json.dumps(body)


def test_a_workflow_answer_holds_at_most_1000_events_and_says_when_there_were_more(
    platform: MotoHarness, door: FrontDoor, log_item: Callable[[EventEnvelope], dict[str, Any]]
) -> None:
    def counted(n: int, tenant: str) -> EventEnvelope:
        """Event `n` of the workflow `big-1`, of `tenant`."""
        return EventEnvelope(
            source="soorma.stock",
            type="stock.counted",
            topic=EventTopic.BUSINESS_FACTS,
            data={"n": n},
            correlation_id="big-1",
            tenant_id=tenant,
        )

    ours = [counted(n, "acme") for n in range(1001)]
    theirs = counted(-1, "globex")  # in the middle: it must not take one of the 1000 places
    seed_log([log_item(e) for e in [*ours[:500], theirs, *ours[500:]]])

    status, answer, _ = get_workflow(door, "big-1")

    assert status == 200
    assert answer["truncated"] is True
    assert [e["id"] for e in answer["events"]] == [e.id for e in ours[:1000]]


# ---- routes -------------------------------------------------------------------------------------


def test_a_route_or_method_the_api_does_not_serve_is_a_json_404(
    platform: MotoHarness, door: FrontDoor
) -> None:
    # API Gateway HTTP API itself answers 404 (not 405) for a method a route lacks; the function
    # says the same, naming what it serves (docs/front-door.md, "Errors").
    routes = [
        *(("GET", "/events"), ("PUT", "/events"), ("DELETE", "/call"), ("GET", "/call")),
        *(("POST", "/workflows/c-1"), ("PATCH", "/workflows/c-1"), ("OPTIONS", "/events")),
        *(("POST", "/events/"), ("POST", "/EVENTS"), ("POST", "/events/extra"), ("POST", "/")),
        ("GET", "/workflows"),
    ]
    answers = {
        f"{method} {path}": door.call(
            http_event(method, path, body=json.dumps(NOTED), claims=CLAIMS)
        )
        for method, path in routes
    }
    assert {route: outcome(a) for route, a in answers.items()} == {r: (404, None) for r in answers}
    for route, (_, body, _) in answers.items():
        assert body["error"].startswith(f"no route {route}: the API serves POST /events, ")
    assert platform.published == []


# ---- POST /call ---------------------------------------------------------------------------------


CALL = {**UNHEARD, "response_event": "nobody.answered"}


def test_a_caller_cannot_choose_the_wait(
    platform: MotoHarness, handler_module: ModuleType, time_of_the_test: FakeTime
) -> None:
    timeouts = [0, -1, 28, 1e9, "25", True, None]
    got = {repr(t): outcome(call(handler_module, {**CALL, "timeout": t})) for t in timeouts}
    assert got == {repr(t): (400, "timeout") for t in timeouts}
    assert platform.published == []
    assert time_of_the_test.slept == []


def test_a_response_event_that_is_not_an_event_type_is_refused_before_anything_waits(
    platform: MotoHarness, handler_module: ModuleType, time_of_the_test: FakeTime
) -> None:
    missing: list[Any] = ["", None]
    invalid: list[Any] = ["a." + "b" * 127, "nobody answered", 5, ["a.b"], {"type": "a.b"}]
    answers = {repr(r): call(handler_module, {**UNHEARD, "response_event": r}) for r in missing}
    answers |= {repr(r): call(handler_module, {**UNHEARD, "response_event": r}) for r in invalid}
    assert {r: outcome(a) for r, a in answers.items()} == {
        r: (400, "response_event") for r in answers
    }
    assert all("response_event is missing" in answers[repr(r)][1]["error"] for r in missing)
    assert platform.published == []
    assert time_of_the_test.slept == []


def test_the_configured_wait_is_clamped_to_api_gateways_bound(
    platform: MotoHarness,
    handler_module: ModuleType,
    time_of_the_test: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = {"0": 0.0, "-3": 0.0, "-inf": 0.0, "1e9": 27.0, "inf": 27.0, "27.5": 27.0}
    waited: dict[str, float] = {}
    time_of_the_test.on_sleep = lambda: None  # no agent answers: no need to run the queues
    for configured in expected:
        monkeypatch.setenv("SOORMA_FRONT_DOOR_CALL_SECONDS", configured)
        slept = len(time_of_the_test.slept)
        # a 15-minute function: only API Gateway's 30 s (minus 3) can bound the wait
        status, body, _ = call(handler_module, CALL, timeout_ms=900_000)
        assert status == 202, body
        assert body["request_id"] == platform.published[-1].id
        waited[configured] = pytest.approx(sum(time_of_the_test.slept[slept:]))
    assert waited == expected
    assert len(platform.published) == len(expected)


def test_a_wait_configured_as_nan_is_refused_like_any_other_non_number(
    platform: MotoHarness,
    handler_module: ModuleType,
    time_of_the_test: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # min/max clamps keep NaN: taken as the bound, the wait would never end (a 504)
    monkeypatch.setenv("SOORMA_FRONT_DOOR_CALL_SECONDS", "nan")
    status, body, _ = call(handler_module, CALL, timeout_ms=900_000)
    assert status == 500, body
    assert time_of_the_test.slept == []
    assert platform.published == []


def test_a_misconfigured_wait_refuses_the_call_before_publishing_it(
    platform: MotoHarness,
    handler_module: ModuleType,
    time_of_the_test: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOORMA_FRONT_DOOR_CALL_SECONDS", "soon")
    status, body, _ = call(handler_module, CALL)
    assert status == 500, body
    assert platform.published == []


def test_a_reply_may_be_asked_for_on_action_results_explicitly(
    calculator: MotoHarness, calculator_door: FrontDoor
) -> None:
    status, body, _ = calculator_door.post(
        {**ADD, "response_event": "math.answered", "response_topic": "action-results"},
        headers={"X-Correlation-ID": "calc-edge-1"},
    )
    assert status == 202, body
    calculator.run_until_idle()
    replies = [e for e in calculator.published if e.source == "soorma.calculator"]
    assert [(e.type, e.topic) for e in replies] == [("math.answered", EventTopic.ACTION_RESULTS)]


def test_a_reply_cannot_be_steered_onto_a_platform_topic(
    calculator: MotoHarness, calculator_door: FrontDoor
) -> None:
    steers = {"plan-events": "plan.failed", "system-events": "agent.loop_detected"}
    got = {
        topic: outcome(
            calculator_door.post(
                {**ADD, "response_event": event_type, "response_topic": topic, "plan_id": "p-1"},
                headers={"X-Correlation-ID": f"steer-{topic}"},
            )
        )
        for topic, event_type in steers.items()
    }
    calculator.run_until_idle()
    steered = [(e.type, e.topic.value) for e in calculator.published if e.topic.value in steers]
    assert steered == []
    assert got == {topic: (403, "response_topic") for topic in steers}


# ---- properties ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
TOPIC_NAMES = st.sampled_from([t.value for t in EventTopic])
EVENT_BODIES = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(["order.noted", "order.placed", "math.add"]) | JSON_VALUES,
        "topic": TOPIC_NAMES | JSON_VALUES,
    },
    optional={
        **{name: JSON_VALUES for name in ("data", "subject", "session_id", "dataschema", "x")},
        "response_event": st.sampled_from(["order.seen"]) | JSON_VALUES,
        "response_topic": TOPIC_NAMES | JSON_VALUES,
    },
)
BODIES = EVENT_BODIES.map(json.dumps) | JSON_VALUES.map(json.dumps) | st.text(max_size=80)


@PROPERTY
@given(text=BODIES)
@example(text=json.dumps({**NOTED, "data": {"n": 1}}))
@example(text=json.dumps({**ORDER, "data": {"order_id": "o", "total": "lots"}}))
def test_any_body_gets_a_202_or_a_4xx_json_answer_and_publishes_only_on_202(
    platform: MotoHarness, door: FrontDoor, text: str
) -> None:
    before = len(platform.published)
    status, body, headers = answer = door.post(text)
    published = platform.published[before:]
    assert status == 202 or 400 <= status < 500, (status, body)
    outcome(answer)
    if status == 202:
        [event] = published
        assert body == {"event_id": event.id, "correlation_id": event.correlation_id}
        assert headers["x-correlation-id"] == event.correlation_id
        assert (event.source, event.tenant_id, event.user_id) == (SOURCE, "acme", "ada")
    else:
        assert published == []


@PROPERTY
@given(
    given_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,140}", fullmatch=True)
    | st.text(max_size=40)
)
def test_any_correlation_header_is_echoed_exactly_or_refused(
    platform: MotoHarness, door: FrontDoor, given_id: str
) -> None:
    before = len(platform.published)
    answer = door.post(NOTED, headers={"X-Correlation-ID": given_id})
    documented_rule = (  # docs/front-door.md: 1-128 ASCII letters, digits, '.', '_', ':', '-'
        1 <= len(given_id) <= 128
        and given_id.isascii()
        and given_id[0].isalnum()
        and all(c.isalnum() or c in "._:-" for c in given_id)
    )
    if documented_rule:
        assert outcome(answer) == (202, None), answer[1]
        assert answer[1]["correlation_id"] == answer[2]["x-correlation-id"] == given_id
        assert platform.published[before].correlation_id == given_id
    else:
        assert_refused(answer, 400, "X-Correlation-ID")
        assert len(platform.published) == before
