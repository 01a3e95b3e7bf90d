"""The registry at its edges, on moto DynamoDB, through its public API only.

Limits as AWS defines them (DynamoDB's 400 KB item, counted as attribute names plus UTF-8 values;
the 1 MB page of a Scan), as a careless or hostile caller reaches them (schemas nested past
Python's recursion limit, `$ref` cycles, `$id`s that point at a host, catastrophic regexes,
lone surrogates, concurrent writers, an agent rewriting another agent's event) and as a language
model reaches them (hundreds of tools, a 30,000-value enum in its prompt, event names too long
to be tool names). The defects this review found were fixed (each test names the limit it
holds the registry to); nothing here may hang: the regex that backtracks runs in a child process
with a timeout.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from moto import mock_aws

from soorma.config import settings
from soorma.dynamodb_items import ITEM_LIMIT_BYTES
from soorma.registry import (
    EventToolkit,
    IncompatibleSchemaError,
    InvalidSchemaError,
    RegistryClient,
    RegistryNotConfiguredError,
    check_definition,
    sync_registry,
)
from soorma.registry.client import reset_shared_clients
from soorma.registry.entries import EventRecord, Origin, event_key
from soorma.registry.llm import MAX_TOOL_NAME
from soorma_common import EventDefinition, EventTopic
from soorma_common.errors import (
    PermanentError,
    SchemaValidationError,
    SoormaError,
    VersionConflictError,
)
from soorma_common.manifest import AgentKind, AgentManifest
from soorma_common.naming import MAX_EVENT_TYPE_LENGTH
from soorma_dev.provision import create_table
from tests.integration import test_registry_schema_entry
from tests.integration.test_claims_at_the_edges import dynamodb_item_size
from tests.registry_catalog import (
    ORDER_PLACED,
    OrderPlacedTotalAsText,
    order_manifests,
    order_placed,
)

#: The registry table on moto, as the schema-entry tests make it (the `aws` fixture, its name).
aws = test_registry_schema_entry.aws
TABLE = test_registry_schema_entry.TABLE
#: The most tools one OpenAI Chat Completions request may carry (`array_above_max_length`).
OPENAI_MAX_TOOLS = 128


def registry(dynamodb: Any = None) -> RegistryClient:
    return RegistryClient(TABLE, dynamodb=dynamodb, cache_seconds=0)


def fact(
    name: str, schema: dict[str, Any] | None = None, *, description: str = ""
) -> EventDefinition:
    return EventDefinition(
        event_name=name,
        topic=EventTopic.BUSINESS_FACTS,
        description=description,
        payload_schema=schema,
    )


def request(name: str, schema: dict[str, Any] | None = None) -> EventDefinition:
    return EventDefinition(event_name=name, topic=EventTopic.ACTION_REQUESTS, payload_schema=schema)


def sku_schema(sku_type: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"sku": {"type": sku_type}}}


def described(text: str) -> dict[str, Any]:
    """A valid schema whose size is `text`'s (a field description)."""
    return {"type": "object", "properties": {"note": {"type": "string", "description": text}}}


def nested(depth: int) -> dict[str, Any]:
    """An object schema `depth` levels deep: `{a: {a: ... {a: string}}}`."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def nested_payload(depth: int) -> Any:
    payload: Any = "leaf"
    for _ in range(depth):
        payload = {"a": payload}
    return payload


def stored_item_bytes(dynamodb: Any, name: str) -> int:
    """The size of an event's item as DynamoDB counts it: names plus UTF-8 string values."""
    item = dynamodb.get_item(TableName=TABLE, Key={k: {"S": v} for k, v in event_key(name).items()})
    return dynamodb_item_size(item["Item"])


def consumer(name: str, *definitions: EventDefinition) -> AgentManifest:
    return AgentManifest(name=name, kind=AgentKind.WORKER, events_consumed=list(definitions))


# ---- DynamoDB's 400 KB item -----------------------------------------------------------------


def test_a_schema_just_under_the_item_limit_round_trips(aws: Any) -> None:
    schema = described("x" * 395_000)
    registry().register_event(fact("bulky.fact", schema))

    assert 390_000 < stored_item_bytes(aws, "bulky.fact") <= ITEM_LIMIT_BYTES
    record = registry().get_event("bulky.fact")
    assert record is not None and record.payload_schema == schema


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x" * 420_000, id="ascii-420k-chars"),
        # 140,000 characters, 420,000 bytes: DynamoDB counts UTF-8 bytes, not characters
        pytest.param("漢" * 140_000, id="cjk-140k-chars"),
    ],
)
def test_an_oversized_schema_is_refused_naming_the_limit(aws: Any, text: str) -> None:
    with pytest.raises(PermanentError, match=r"400 ?KB|409,?600") as refused:
        registry().register_event(fact("bulky.fact", described(text)))
    assert "bulky.fact" in str(refused.value)
    assert registry().get_event("bulky.fact") is None


def test_a_large_event_that_fits_can_still_be_changed_compatibly(aws: Any) -> None:
    schema = described("y" * 220_000)
    registry().register_event(fact("bulky.fact", schema))

    try:
        registry().register_event(fact("bulky.fact", schema, description="now described"))
    except PermanentError as exc:  # a clear refusal is acceptable; a raw ClientError is not
        assert "400" in str(exc)
        return
    record = registry().get_event("bulky.fact")
    assert record is not None and record.description == "now described"


def test_a_change_drops_the_history_that_no_longer_fits(aws: Any) -> None:
    schema = described("h" * 220_000)
    sync_registry(
        TABLE,
        [
            AgentManifest(
                name="big", kind=AgentKind.WORKER, events_produced=[fact("bulky.fact", schema)]
            )
        ],
    )
    grown = described("h" * 230_000)  # a compatible change: only a field description grows
    sync_registry(
        TABLE,
        [
            AgentManifest(
                name="big", kind=AgentKind.WORKER, events_produced=[fact("bulky.fact", grown)]
            )
        ],
    )

    record = registry().get_event("bulky.fact")
    assert record is not None and record.payload_schema == grown
    assert record.history_dropped and record.previous_payload_schema is None
    assert stored_item_bytes(aws, "bulky.fact") <= ITEM_LIMIT_BYTES


def test_a_sync_with_an_oversized_event_fails_whole_before_writing(aws: Any) -> None:
    sync_registry(TABLE, order_manifests())
    changed = EventDefinition(
        event_name="order.placed",
        topic=ORDER_PLACED.topic,
        description="An order was placed (described anew)",
        payload_schema=ORDER_PLACED.payload_schema,
    )
    bulky = AgentManifest(
        name="bulky",
        kind=AgentKind.WORKER,
        events_produced=[fact("zz.bulky", described("z" * 420_000))],
    )

    with pytest.raises(PermanentError, match=r"400 ?KB|409,?600") as refused:
        sync_registry(TABLE, [*order_manifests(changed), bulky])
    assert "zz.bulky" in str(refused.value)

    record = registry().get_event("order.placed")
    assert record is not None and record.description == ORDER_PLACED.description
    assert registry().get_event("zz.bulky") is None


# ---- volume: Scan pages, many agents, many tools ----------------------------------------------


def test_hundreds_of_events_on_one_topic_come_back_across_scan_pages(aws: Any) -> None:
    # ~3 KB per item: 600 events are ~1.8 MB, more than one 1 MB Scan page
    schema = {
        "type": "object",
        "properties": {f"f{i}": {"type": "string", "description": "d" * 200} for i in range(12)},
    }
    produced = [fact(f"bulk.e{i:04d}", schema) for i in range(600)]
    elsewhere = [request("bulk.ask")]
    sync_registry(
        TABLE,
        [AgentManifest(name="bulk", kind=AgentKind.WORKER, events_produced=produced + elsewhere)],
    )

    scans: list[str] = []
    counted = boto3.client("dynamodb")
    counted.meta.events.register("before-call.dynamodb.Scan", lambda **_: scans.append("scan"))
    client = registry(counted)
    on_topic = client.events_by_topic(EventTopic.BUSINESS_FACTS)
    everything = client.all_events()

    assert len(scans) >= 2  # the 1 MB page was reached: what follows proves pagination
    assert [e.name for e in on_topic] == [d.event_name for d in produced]
    assert len(everything) == 601 and everything[0].name == "bulk.ask"
    assert client.producers_of("bulk.e0599") == ["bulk"]


def test_hundreds_of_agents_consuming_one_event_are_all_named(aws: Any) -> None:
    deployed = [consumer(f"consumer-{i:03d}", ORDER_PLACED) for i in range(250)]
    sync_registry(TABLE, deployed)
    late = registry()
    for i in range(20):  # agents deployed outside the stack, registered at run time
        late.register_agent(consumer(f"late-{i:02d}", ORDER_PLACED))

    consumers = registry().consumers_of("order.placed")
    assert len(consumers) == 270
    assert consumers[:2] == ["consumer-000", "consumer-001"] and consumers[-1] == "late-19"
    assert registry().get_agent("late-07") is not None


def test_openai_tool_specs_stay_within_openais_tool_limit(aws: Any) -> None:
    asks = [request(f"task.ask{i:03d}") for i in range(200)]
    sync_registry(TABLE, [consumer("doer", *asks)])
    toolkit = EventToolkit(registry())
    events = toolkit.discover_actionable_events()
    assert len(events) == 200

    try:
        tools = toolkit.format_for_llm(events, "openai")
    except PermanentError as exc:
        assert "128" in str(exc) and "200" in str(exc)
        return
    assert len(tools) <= OPENAI_MAX_TOOLS


# ---- ownership and concurrency ------------------------------------------------------------------


def test_an_agent_cannot_change_another_agents_event_incompatibly(aws: Any) -> None:
    sync_registry(TABLE, order_manifests())
    before = registry().get_event("order.placed")
    intruder = AgentManifest(
        name="intruder",
        kind=AgentKind.WORKER,
        events_produced=[order_placed(OrderPlacedTotalAsText)],
    )

    with pytest.raises(IncompatibleSchemaError) as refused:
        registry().register_agent(intruder)

    message = str(refused.value)
    assert "type of field 'total' changed from number to string" in message
    assert "'order.placed.v2'" in message  # the way out is named
    assert registry().get_event("order.placed") == before  # the owner's entry is untouched
    assert registry().get_agent("intruder") is None
    assert "intruder" not in registry().producers_of("order.placed")


def test_a_refused_agent_registration_leaves_no_event_behind(aws: Any) -> None:
    registry().register_event(request("part.quote", sku_schema("string")))
    agent = AgentManifest(
        name="half-done",
        kind=AgentKind.WORKER,
        events_consumed=[request("part.lookup", sku_schema("string"))],
        events_produced=[request("part.quote", sku_schema("integer"))],
    )

    with pytest.raises(IncompatibleSchemaError):
        registry().register_agent(agent)

    assert registry().get_agent("half-done") is None
    assert registry().get_event("part.lookup") is None


def test_two_concurrent_incompatible_registrations_leave_one_whole_winner(aws: Any) -> None:
    for trial in range(8):
        name = f"race.quote{trial}"
        both_checked = threading.Barrier(2)
        # DynamoDB checks a write's condition and writes atomically; moto does not lock
        # between the two, so the test makes each PutItem one step, as DynamoDB does
        one_put_at_a_time = threading.Lock()
        outcome: dict[str, str] = {}

        def register(
            sku_type: str,
            name: str = name,
            barrier: Any = both_checked,
            atomic: Any = one_put_at_a_time,
            outcome: dict[str, str] = outcome,
        ) -> None:
            client = boto3.client("dynamodb")
            first_put = [True]

            def wait_for_the_other(**_: Any) -> None:
                if first_put[0]:  # both have read "no entry" before either writes
                    first_put[0] = False
                    barrier.wait(timeout=10)
                atomic.acquire()

            def put_done(**_: Any) -> None:
                atomic.release()

            client.meta.events.register("before-call.dynamodb.PutItem", wait_for_the_other)
            client.meta.events.register("after-call.dynamodb.PutItem", put_done)
            client.meta.events.register("after-call-error.dynamodb.PutItem", put_done)
            try:
                registry(client).register_event(request(name, sku_schema(sku_type)))
                outcome[sku_type] = "registered"
            except IncompatibleSchemaError:
                outcome[sku_type] = "refused"

        threads = [threading.Thread(target=register, args=(t,)) for t in ("string", "integer")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert not any(thread.is_alive() for thread in threads), "a registration hung"

        assert sorted(outcome.values()) == ["refused", "registered"], outcome
        winner = next(t for t, result in outcome.items() if result == "registered")
        record = registry().get_event(name)
        assert record is not None and record.payload_schema == sku_schema(winner)
        raw = aws.get_item(TableName=TABLE, Key={k: {"S": v} for k, v in event_key(name).items()})[
            "Item"
        ]
        assert json.loads(raw["record"]["S"])["payload_schema"] == sku_schema(winner)
        assert raw["topic"]["S"] == "action-requests" and raw["origin"]["S"] == "runtime"


def test_identical_registrations_never_lose_a_race(aws: Any) -> None:
    definition = request("shared.ask", sku_schema("string"))
    registry().register_event(definition)
    storm = boto3.client("dynamodb")

    def another_agent_registers_the_same(**_: Any) -> None:
        registry(boto3.client("dynamodb")).register_event(definition)

    storm.meta.events.register("before-call.dynamodb.PutItem", another_agent_registers_the_same)
    try:
        record = registry(storm).register_event(definition)
    except VersionConflictError as exc:
        pytest.fail(f"an identical registration lost a race: {exc}")
    assert record.payload_schema == definition.payload_schema


# ---- hostile schemas ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "depth",
    [
        30,
        pytest.param(50, id="50-fastjsonschema-cannot-indent"),
        400,
        1_000,
    ],
)
def test_a_deeply_nested_schema_is_accepted_or_refused_permanently(aws: Any, depth: int) -> None:
    name = f"deep.fact{depth}"
    try:
        registry().register_event(fact(name, nested(depth)))
    except InvalidSchemaError as exc:
        assert name in str(exc)
        assert registry().get_event(name) is None
        return
    toolkit = EventToolkit(registry())
    assert toolkit.create_payload(name, nested_payload(depth)) == nested_payload(depth)
    with pytest.raises(SchemaValidationError):
        toolkit.create_payload(name, nested_payload(depth - 1))


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(
            {
                "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}},
                "$ref": "#/definitions/a",
            },
            id="mutual",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}}, id="self"
        ),
    ],
)
def test_a_ref_cycle_is_refused_at_registration(aws: Any, schema: dict[str, Any]) -> None:
    try:
        registry().register_event(fact("loop.fact", schema))
    except InvalidSchemaError as exc:
        assert "$ref" in str(exc)
        return
    with pytest.raises(PermanentError):  # registered: then at least a permanent error per payload
        EventToolkit(registry()).create_payload("loop.fact", {"a": 1})


#: Schemas that name hosts (127.0.0.1, port 9: nothing listens) in `$id`, `$schema` and `$ref`.
HOST = "http://127.0.0.1:9"
NETWORK_BAIT: dict[str, dict[str, Any]] = {
    "root $id, local ref": {
        "$id": f"{HOST}/root.json",
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/x"}},
        "definitions": {"x": {"type": "string"}},
    },
    "nested $id rebases a local ref": {
        "type": "object",
        "properties": {"a": {"$id": f"{HOST}/other.json", "$ref": "#/definitions/x"}},
        "definitions": {"x": {"type": "string"}},
    },
    "$schema names a host": {"$schema": f"{HOST}/meta.json", "type": "object"},
    "relative ref against a remote $id": {
        "$id": f"{HOST}/root.json",
        "properties": {"a": {"$ref": "other.json#/definitions/x"}},
    },
    "remote ref in a data keyword": {"type": "object", "default": {"$ref": f"{HOST}/d.json"}},
}


@pytest.mark.parametrize("kind", sorted(NETWORK_BAIT))
def test_no_schema_makes_the_registry_touch_the_network(
    aws: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    reached: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        reached.append(args)
        raise OSError("the registry must never open a connection")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    name = "bait." + "".join(c for c in kind if c.isalnum())[:20]
    try:
        registry().register_event(fact(name, NETWORK_BAIT[kind]))
    except InvalidSchemaError:
        pass
    else:
        with contextlib.suppress(PermanentError):
            EventToolkit(registry()).create_payload(name, {"a": "text"})
    assert reached == []


_BACKTRACKING = textwrap.dedent(
    """
    from soorma.registry.schemas import InvalidSchemaError
    from soorma.registry.validation import PayloadValidator
    from soorma_common import EventDefinition
    from soorma_common.errors import SchemaValidationError

    definition = EventDefinition(
        event_name="code.submitted",
        topic="business-facts",
        payload_schema={"type": "object", "properties": {"code": {"type": "string",
                                                                   "pattern": "^(a+)+$"}}},
    )
    try:
        PayloadValidator([definition])("code.submitted", {"code": "a" * 64 + "!"})
    except (InvalidSchemaError, SchemaValidationError) as exc:
        print(type(exc).__name__)
    """
)


def test_a_backtracking_pattern_cannot_stall_a_payload_check() -> None:
    try:  # a child process: a regex in C holds the GIL, so a thread could not be abandoned
        done = subprocess.run(
            [sys.executable, "-c", _BACKTRACKING], capture_output=True, text=True, timeout=8
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the payload check was still backtracking after 8 s (killed)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() in ("InvalidSchemaError", "SchemaValidationError")


@pytest.mark.parametrize(
    ("pattern", "refused"),
    [
        ("^(a+)+$", True),
        ("^(\\w*\\s?)*$", True),
        ("((ab)+c){2,}", True),
        ("(?:x+)*", True),
        ("^[A-Z]-\\d+$", False),
        ("^(ab)+$", False),
        ("(a+)?", False),
        ("\\(a+\\)+", False),  # escaped parentheses are no group
        ("[(]a+[)]+", False),  # nor are parentheses in a class
    ],
)
def test_nested_quantifiers_are_refused_as_a_documented_heuristic(
    pattern: str, refused: bool
) -> None:
    schema = {"type": "string", "pattern": pattern}
    try:
        check_definition(fact("code.checked", schema))
    except InvalidSchemaError as exc:
        assert refused and repr(pattern) in str(exc) and "nested quantifiers" in str(exc)
    else:
        assert not refused


HUGE_ENUM = {
    "type": "object",
    "required": ["code"],
    "properties": {"code": {"type": "string", "enum": [f"code-{i:05d}" for i in range(30_000)]}},
}


def test_a_huge_enum_registers_and_checks_payloads(aws: Any) -> None:
    registry().register_event(fact("catalog.coded", HUGE_ENUM))
    toolkit = EventToolkit(registry())
    assert toolkit.create_payload("catalog.coded", {"code": "code-29999"}) == {"code": "code-29999"}
    with pytest.raises(SchemaValidationError, match="field 'code' = 'code-30000' breaks rule"):
        toolkit.create_payload("catalog.coded", {"code": "code-30000"})


def test_a_huge_enum_does_not_flood_an_llm_prompt(aws: Any) -> None:
    registry().register_event(fact("catalog.coded", HUGE_ENUM))
    registry().register_event(fact("catalog.plain", sku_schema("string")))
    toolkit = EventToolkit(registry())

    text = toolkit.format_for_llm(toolkit.discover_events())
    assert "catalog.plain" in text and "catalog.coded" in text
    assert len(text.encode()) < 16 * 1024


# ---- names and text at the edges --------------------------------------------------------------


def test_event_names_at_the_naming_rules_edges(aws: Any) -> None:
    longest = "a" * (MAX_EVENT_TYPE_LENGTH - 5) + ".done"
    registry().register_event(fact(longest))
    record = registry().get_event(longest)
    assert record is not None and record.name == longest and len(longest) == 128

    with pytest.raises(ValueError, match="129 characters, over the 128 that EventBridge allows"):
        fact(longest + "x")
    with pytest.raises(ValueError, match="it contains 'é'"):
        fact("commande.passée")
    with pytest.raises(ValueError, match="it contains white space"):
        fact("order .placed")

    # names are case-sensitive (as EventBridge's detail-type): two entries, never merged
    registry().register_event(fact("Order.Placed", sku_schema("string")))
    registry().register_event(fact("order.placed", sku_schema("integer")))
    upper, lower = registry().get_event("Order.Placed"), registry().get_event("order.placed")
    assert upper is not None and upper.payload_schema == sku_schema("string")
    assert lower is not None and lower.payload_schema == sku_schema("integer")


def test_one_event_with_no_tool_name_does_not_break_every_planner(aws: Any) -> None:
    ordinary = request("ticket.route", sku_schema("string"))
    sync_registry(TABLE, [consumer("router", ordinary)])
    too_long = request("ticket." + "escalate" * 10)  # 87 characters: a valid event name
    try:
        registry().register_agent(consumer("escalator", too_long))
    except PermanentError as exc:  # refused where it enters, naming the tool-name limit
        assert str(MAX_TOOL_NAME) in str(exc)
        return

    toolkit = EventToolkit(registry())
    tools = toolkit.format_for_llm(toolkit.discover_actionable_events(), "bedrock")
    assert "ticket-route" in [tool["toolSpec"]["name"] for tool in tools]


def test_a_lone_surrogate_is_refused_with_a_permanent_error(aws: Any) -> None:
    description = json.loads('"Routes tickets \\ud800"')
    with pytest.raises((PermanentError, ValueError)) as refused:
        registry().register_event(fact("ticket.noted", description=description))
    assert isinstance(refused.value, PermanentError) or "description" in str(refused.value)
    assert registry().get_event("ticket.noted") is None


# ---- the registry missing ---------------------------------------------------------------------


def test_an_unconfigured_registry_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOORMA_REGISTRY_TABLE", raising=False)
    settings.cache_clear()
    reset_shared_clients()
    with pytest.raises(RegistryNotConfiguredError, match="set SOORMA_REGISTRY_TABLE"):
        RegistryClient.from_env()


@pytest.mark.parametrize("call", ["all_events", "get_event", "register_event"])
def test_a_missing_registry_table_is_a_clear_error(aws: Any, call: str) -> None:
    missing = RegistryClient("soorma-test-nope", cache_seconds=0)
    actions: dict[str, Callable[[], object]] = {
        "all_events": missing.all_events,
        "get_event": lambda: missing.table.get_event("order.placed"),
        "register_event": lambda: missing.register_event(ORDER_PLACED),
    }
    with pytest.raises(SoormaError, match="soorma-test-nope"):
        actions[call]()


# ---- a property: what is registered is what is read back --------------------------------------

_NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,40}\Z")
_LEAVES = st.one_of(
    st.fixed_dictionaries({"type": st.just("string")}, optional={"maxLength": st.integers(0, 99)}),
    st.fixed_dictionaries(
        {"type": st.just("integer")}, optional={"minimum": st.integers(-(2**70), 2**70)}
    ),
    st.fixed_dictionaries(
        {"type": st.just("number")},
        optional={"maximum": st.floats(allow_nan=False, allow_infinity=False)},
    ),
    st.fixed_dictionaries(
        {"enum": st.lists(st.one_of(st.text(max_size=5), st.integers()), min_size=1, max_size=4)}
    ),
    st.just({"type": "boolean", "description": "yes or no"}),
)


def _object_of(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def build(props: dict[str, Any], required: list[bool]) -> dict[str, Any]:
        names = [n for n, keep in zip(props, required, strict=False) if keep]
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if names:
            schema["required"] = names
        return schema

    return st.builds(
        build,
        st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4),
        st.lists(st.booleans(), max_size=4),
    )


_SCHEMAS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        _object_of(inner), st.builds(lambda items: {"type": "array", "items": items}, inner)
    ),
    max_leaves=10,
)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@hypothesis_settings(max_examples=30)
@given(
    name=_NAMES,
    topic=st.sampled_from(list(EventTopic)),
    description=st.text(max_size=60),
    payload=st.none() | _SCHEMAS,
    response=st.none() | _SCHEMAS,
    metadata=st.dictionaries(
        st.text(max_size=8).filter(lambda k: k != "compatibility"), _JSON_VALUES, max_size=3
    ),
)
def test_a_registered_definition_reads_back_exactly(
    name: str,
    topic: EventTopic,
    description: str,
    payload: dict[str, Any] | None,
    response: dict[str, Any] | None,
    metadata: dict[str, Any],
) -> None:
    definition = EventDefinition(
        event_name=name,
        topic=topic,
        description=description,
        payload_schema=payload,
        response_schema=response,
        metadata=metadata,
    )
    with mock_aws():
        create_table(boto3.client("dynamodb"), TABLE, "registry")
        client = registry()
        written = client.register_event(definition)
        again = client.register_event(definition)  # re-registering as is: allowed, unchanged
        read = client.get_event(name)

    assert read is not None
    expected = EventRecord.from_definition(definition, Origin.RUNTIME)
    assert read.model_dump(exclude={"previous_payload_schema", "previous_response_schema"}) == (
        expected.model_dump(exclude={"previous_payload_schema", "previous_response_schema"})
    )
    assert json.dumps(read.payload_schema, sort_keys=True) == json.dumps(payload, sort_keys=True)
    assert read.response_schema == response and read.metadata == metadata
    assert written.name == again.name == name and again.payload_schema == payload
