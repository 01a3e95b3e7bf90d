"""Exactly-once claims at their edges, as a careless or hostile caller reaches them (moto; SQLite
for the fast local cloud's keeper): duplicates inside one batch, stored outboxes at DynamoDB's
400 KB item limit, claims in progress past their invocation, expired but unswept claims, claim
items rewritten by someone else, the one-write mode against failures and claim-first copies,
agents sharing an envelope id, and EventBridge replays.

Records travel `PutEvents -> rule -> SQS -> lambda_handler` (`MotoHarness`); claim items are
seeded or rewritten with plain DynamoDB calls, as another writer would."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from soorma import Agent
from soorma.agent_spec import CLAIM_FIRST, ONE_WRITE
from soorma.outbox import DYNAMODB_MAX_ITEM_BYTES, MAX_STORED_OUTBOX_BYTES
from soorma.runtime.claims import ClaimStore, claim_key, stored_data
from soorma_common import EventEnvelope, EventTopic
from soorma_common.errors import ClaimInProgressError, OutboxNotStorableError, PermanentError
from soorma_dev.harness import (
    LambdaContextStub,
    MotoHarness,
    fail_put_events_entries,
    record_put_events,
)
from soorma_dev.localcloud.fast.store import FastStore
from soorma_dev.provision import create_table
from soorma_dev.sqs_events import lambda_event, queue_region
from tests.integration.test_localcloud_fast_store import fast_store

FACTS = EventTopic.BUSINESS_FACTS
MODES = [CLAIM_FIRST, ONE_WRITE]
HOUR = 3600


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


# ---- helpers ------------------------------------------------------------------------------------


def scorer(mode: str, runs: list[str], *, fail_first: bool = False, big: int = 0) -> Agent:
    """A scorer agent: per run, two events marked with the run number (or `big` bytes each)."""
    agent = Agent("scorer", claims=mode, events_produced=["order.scored", "order.noted"])

    @agent.on_event("order.placed", topic=FACTS)
    def score(event: Any, context: Any) -> None:
        runs.append(event.id)
        run = len(runs)
        context.bus.announce("order.scored", {"run": run, "pad": "x" * big})
        context.bus.announce("order.noted", {"run": run, "pad": "y" * big})
        if fail_first and run == 1:
            raise RuntimeError("the handler failed after publishing")

    return agent


def listener(name: str, runs: list[str]) -> Agent:
    """A claim-first consumer of the scorer's events (its claims drop duplicate ids)."""
    agent = Agent(name)

    @agent.on_event("*", topic=FACTS)
    def heard(event: Any, context: Any) -> None:
        if event.source == "soorma.scorer":
            runs.append(event.id)

    return agent


def dynamodb(harness: MotoHarness) -> Any:
    return harness.session.client("dynamodb")


def claim_id(harness: MotoHarness, key: str) -> str:
    """The `id` of the item holding claim `key` (the runtime's function name and layout)."""
    return ClaimStore(harness.platform.tables["idempotency"], expires_after_seconds=1).item_id(key)


def seed_claim(harness: MotoHarness, key: str, **attributes: dict[str, str]) -> str:
    """Write a claim item as another writer would; return its id."""
    ident = claim_id(harness, key)
    dynamodb(harness).put_item(
        TableName=harness.platform.tables["idempotency"],
        Item={"id": {"S": ident}, **attributes},
    )
    return ident


def claim_item(harness: MotoHarness, ident: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        dynamodb(harness)
        .get_item(TableName=harness.platform.tables["idempotency"], Key={"id": {"S": ident}})
        .get("Item")
    )
    return item


def stored_details(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(base64.b64decode(s)) for s in json.loads(item["data"]["S"])]


def detail_of(source: str, event_type: str, **data: Any) -> str:
    """The stored form (base64 of the `Detail`) of an event made elsewhere."""
    wire = EventEnvelope(source=source, type=event_type, topic=FACTS, data=data).to_wire()
    return base64.b64encode(json.dumps(wire).encode()).decode()


def future(seconds: int = HOUR) -> dict[str, str]:
    return {"N": str(int(time.time()) + seconds)}


def ids_put(put: Any) -> Counter[str]:
    return Counter(d["id"] for d in put.details())


def scorer_details(put: Any) -> list[dict[str, Any]]:
    return [d for d in put.details() if d["source"] == "soorma.scorer"]


def dynamodb_item_size(item: dict[str, dict[str, str]]) -> int:
    """An item's size as DynamoDB counts it ("Item sizes" in the DynamoDB developer guide):
    per attribute, the UTF-8 bytes of its name plus its value's: a string's UTF-8 bytes, a
    number's 1 byte per two significant digits plus 1 (counted high: every digit significant)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        if kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            digits = len(raw.strip("-").replace(".", ""))
            size += math.ceil(digits / 2) + 1
        else:  # pragma: no cover - the claim items hold strings and numbers only
            raise AssertionError(f"unexpected attribute type {kind}")
    return size


# ---- the same envelope twice in one batch -------------------------------------------------------


def test_claim_first_batch_holding_one_envelope_twice_runs_it_once() -> None:
    runs: list[str] = []
    heard: list[str] = []
    harness = MotoHarness([scorer(CLAIM_FIRST, runs), listener("audit", heard)])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    harness.put(order)  # EventBridge delivers at least once: two records, one envelope
    messages = harness.receive("scorer", FACTS)
    assert len(messages) == 2
    with record_put_events() as put:
        delivery = harness.deliver("scorer", FACTS, messages)

    assert delivery.failed_ids == []
    assert runs == [order.id]  # the second record found the completed claim
    # The second record re-sends the first one's stored events: the same ids and bytes in the
    # same flush, which puts each event once for both records.
    counts = ids_put(put)
    assert len(counts) == 2 and set(counts.values()) == {1}
    by_id: dict[str, set[str]] = {}
    for call in put.calls:
        for entry in call:
            by_id.setdefault(json.loads(entry["Detail"])["id"], set()).add(entry["Detail"])
    assert all(len(details) == 1 for details in by_id.values())
    harness.run_until_idle()
    assert sorted(heard) == sorted(counts)  # the consumer handled each event once
    assert harness.dead_letters() == []


def test_one_write_one_batch_with_one_envelope_twice_publishes_only_the_first_run() -> None:
    runs: list[str] = []
    heard: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs), listener("audit", heard)])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    harness.put(order)
    messages = harness.receive("scorer", FACTS)
    assert len(messages) == 2
    with record_put_events() as put:
        delivery = harness.deliver("scorer", FACTS, messages)

    assert delivery.failed_ids == []
    # The one-write trade: the second record ran the handler again (sequentially, in the same
    # invocation, after the first had stored its events) ...
    assert runs == [order.id, order.id]
    # ... but only the first run's events reach the bus, each id once with one set of bytes.
    published = scorer_details(put)
    assert {d["data"]["run"] for d in published} == {1}
    assert set(ids_put(put).values()) == {1}
    [record] = harness.idempotency_records()
    assert {d["data"]["run"] for d in stored_details(record)} == {1}
    harness.run_until_idle()
    assert len(heard) == 2 and len(set(heard)) == 2


# ---- outboxes at DynamoDB's 400 KB item limit ---------------------------------------------------


class RecordingDynamoDB:
    """A DynamoDB client that keeps the claim item as DynamoDB would after each write (no size
    limit: the test measures the item itself, by DynamoDB's rules; moto refuses items over
    405,000 bytes, under DynamoDB's 409,600)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict[str, str]]] = {}

    def put_item(self, **request: Any) -> dict[str, Any]:
        item = request["Item"]
        self.items[item["id"]["S"]] = dict(item)
        return {}

    def update_item(self, **request: Any) -> dict[str, Any]:
        item = self.items[request["Key"]["id"]["S"]]
        names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
        for assignment in request["UpdateExpression"].removeprefix("SET ").split(", "):
            name, value = (part.strip() for part in assignment.split("="))
            item[names[name]] = values[value]
        return {}


def outbox_of_stored_size(size: int) -> list[str]:
    """Two stored events whose stored list (`json.dumps`) takes exactly `size` bytes."""
    first = size // 2
    return ["A" * first, "B" * (size - first - 8)]  # `["` + `", "` + `"]` = 8 bytes


@pytest.mark.parametrize("mode", MODES)
def test_an_outbox_at_the_publish_budget_fits_a_dynamodb_item_with_the_longest_key(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f" * 64)  # Lambda's longest name
    client = RecordingDynamoDB()
    store = ClaimStore("claims", expires_after_seconds=10**9, dynamodb_client=client)
    store.register_lambda_context(LambdaContextStub("f" * 64, timeout_ms=900_000))
    events = outbox_of_stored_size(MAX_STORED_OUTBOX_BYTES)
    assert len(stored_data(events)) == MAX_STORED_OUTBOX_BYTES
    key = claim_key("a" * 36, "s" * 200, "e" * 200)  # the longest agent name, long source and id
    if mode == CLAIM_FIRST:
        assert store.run_once(key, lambda: events) == events
    else:
        assert store.keep_first(key, events) is None

    [item] = client.items.values()
    assert item["status"] == {"S": "COMPLETED"}
    assert dynamodb_item_size(item) <= DYNAMODB_MAX_ITEM_BYTES


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [(CLAIM_FIRST, "the claim was released"), (ONE_WRITE, "nothing was stored")],
)
def test_an_outbox_one_byte_over_a_dynamodb_item_is_refused_naming_the_claim(
    mode: str, outcome: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "soorma-test-scorer")
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, "claims", "idempotency")
    store = ClaimStore("claims", expires_after_seconds=HOUR, dynamodb_client=client)
    store.register_lambda_context(LambdaContextStub("soorma-test-scorer"))
    key = claim_key("scorer", "soorma.shop", "e-1")
    # measure the item this mode writes (same key, name and expiry digits), then grow its data
    # to one byte over DynamoDB's limit
    probe = RecordingDynamoDB()
    measured = ClaimStore("claims", expires_after_seconds=HOUR, dynamodb_client=probe)
    measured.register_lambda_context(LambdaContextStub("soorma-test-scorer"))
    base = outbox_of_stored_size(1_000)
    if mode == CLAIM_FIRST:
        measured.run_once(key, lambda: base)
    else:
        measured.keep_first(key, base)
    [item] = probe.items.values()
    events = outbox_of_stored_size(1_000 + DYNAMODB_MAX_ITEM_BYTES + 1 - dynamodb_item_size(item))

    with pytest.raises(OutboxNotStorableError) as refused:
        if mode == CLAIM_FIRST:
            store.run_once(key, lambda: events)
        else:
            store.keep_first(key, events)

    assert repr(key) in str(refused.value) and outcome in str(refused.value)
    assert client.scan(TableName="claims")["Items"] == []  # not left in progress
    assert store.keep_first(key, ["c21hbGw="]) is None  # the key is free


def test_a_stored_outbox_near_the_item_limit_is_reflushed_byte_for_byte() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(CLAIM_FIRST, runs, big=150_000)])
    harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    [message] = harness.receive("scorer", FACTS)
    with record_put_events() as first:
        assert harness.deliver("scorer", FACTS, [message]).failed_ids == []
    [record] = harness.idempotency_records()
    stored = len(record["data"]["S"])
    assert 400_000 < stored <= MAX_STORED_OUTBOX_BYTES  # within 8 KB of the budget
    assert first.count == 2  # two entries over 256 KB together: one PutEvents each

    harness.send_raw("scorer", FACTS, message["Body"])  # SQS delivers it again
    with record_put_events() as again:
        assert harness.deliver("scorer", FACTS).failed_ids == []

    assert runs == [runs[0]]
    assert again.calls == first.calls  # the very entries, split the same way
    assert harness.dead_letters() == []


# ---- claims in progress, claims expired ---------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("invocation_over", [True, False], ids=["invocation-over", "invocation-on"])
def test_a_claim_in_progress_is_taken_over_only_once_its_invocation_is_over(
    mode: str, invocation_over: bool
) -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(mode, runs)])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    now_ms = int(time.time() * 1000)
    until = now_ms - 1 if invocation_over else now_ms + 600_000
    ident = seed_claim(
        harness,
        claim_key("scorer", order.source, order.id),
        status={"S": "INPROGRESS"},
        expires_at=future(),
        in_progress_expiration={"N": str(until)},
    )
    with record_put_events() as put:
        delivery = harness.deliver("scorer", FACTS)

    item = claim_item(harness, ident)
    assert item is not None
    if invocation_over:
        assert delivery.failed_ids == []
        assert runs == [order.id]
        assert item["status"] == {"S": "COMPLETED"}
        assert [d["id"] for d in stored_details(item)] == [d["id"] for d in put.details()]
    else:
        assert len(delivery.failed_ids) == 1  # transient: retried, never dead-lettered
        assert put.count == 0
        assert item["status"] == {"S": "INPROGRESS"}  # the holder's claim is untouched
        assert item["in_progress_expiration"] == {"N": str(until)}
        assert runs == ([order.id] if mode == ONE_WRITE else [])  # one-write runs first
        [handling] = harness.handlings("scorer")
        assert handling.reason is not None and "ClaimInProgressError" in handling.reason
        assert harness.dead_letters() == []


@pytest.mark.parametrize("mode", MODES)
def test_a_completed_claim_past_its_ttl_but_not_swept_is_handled_again(mode: str) -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(mode, runs)])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    stale = detail_of("soorma.scorer", "order.scored", run="stale")
    ident = seed_claim(
        harness,
        claim_key("scorer", order.source, order.id),
        status={"S": "COMPLETED"},
        expires_at={"N": str(int(time.time()) - 1)},  # DynamoDB deletes it within days
        data={"S": json.dumps([stale])},
    )
    with record_put_events() as put:
        assert harness.deliver("scorer", FACTS).failed_ids == []

    assert runs == [order.id]
    assert [d["data"]["run"] for d in put.details()] == [1, 1]  # not the stale events
    item = claim_item(harness, ident)
    assert item is not None and item["status"] == {"S": "COMPLETED"}
    assert int(item["expires_at"]["N"]) > time.time() + 24 * HOUR  # a fresh claim TTL
    assert [d["data"]["run"] for d in stored_details(item)] == [1, 1]


# ---- claim items rewritten by someone else ------------------------------------------------------

REWRITES = [
    pytest.param(
        {"status": {"S": "DONE"}, "data": {"S": "[]"}},
        id="status-unknown",
    ),
    pytest.param(
        {"data": {"S": "[]"}},
        id="status-missing",
    ),
    pytest.param(
        {"status": {"S": "COMPLETED"}, "data": {"S": "{}"}},
        id="data-an-object",
    ),
    pytest.param(
        {"status": {"S": "COMPLETED"}, "data": {"S": "42"}},
        id="data-a-number",
    ),
    pytest.param(
        {"status": {"S": "COMPLETED"}, "data": {"S": "not json"}},
        id="data-not-json",
    ),
    pytest.param(
        {"status": {"S": "COMPLETED"}, "data": {"S": json.dumps(["not base64!"])}},
        id="data-not-base64",
    ),
    pytest.param(
        {
            "status": {"S": "COMPLETED"},
            "data": {"S": json.dumps([detail_of("soorma.notifier", "order.scored", run=0)])},
        },
        id="data-of-another-agent",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rewritten", REWRITES)
def test_a_rewritten_claim_item_is_a_permanent_error_naming_the_claim(
    mode: str, rewritten: dict[str, dict[str, str]]
) -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(mode, runs)])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    key = claim_key("scorer", order.source, order.id)
    seed_claim(harness, key, expires_at=future(), **rewritten)
    with record_put_events() as put:
        harness.deliver("scorer", FACTS)

    assert scorer_details(put) == []  # nothing re-put as the scorer, nothing of its own
    assert runs == ([order.id] if mode == ONE_WRITE else [])  # claim-first never re-runs
    [handling] = harness.handlings("scorer")
    assert handling.outcome == "dead-lettered", handling.reason
    [letter] = harness.dead_letters("scorer")
    assert letter.reason is not None and repr(key) in letter.reason


def test_the_fast_keeper_refuses_a_row_with_an_unknown_status_as_permanent(
    tmp_path: Path,
) -> None:
    store: FastStore = fast_store(tmp_path)
    keeper = store.claims(expires_after_seconds=HOUR)
    keeper.database.connection().execute(
        "INSERT INTO claims VALUES (?, ?, ?, NULL, ?)", ("a#e-1", "DONE", time.time() + HOUR, "[]")
    )
    # The same semantics as the DynamoDB store's (above): a row nobody of ours wrote is a
    # permanent error naming it, never "in progress" until it expires.
    for attempt in (lambda: keeper.run_once("a#e-1", list), lambda: keeper.keep_first("a#e-1", [])):
        with pytest.raises(PermanentError, match="a#e-1"):
            attempt()


def keeper_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[Any, Any]]:
    """(holder, copy) of each claim store: DynamoDB's on moto and the fast mode's SQLite one."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "soorma-test-scorer")
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, "claims", "idempotency")
    fast: FastStore = fast_store(tmp_path)

    def dynamo() -> ClaimStore:
        return ClaimStore("claims", expires_after_seconds=HOUR, dynamodb_client=client)

    def sqlite() -> Any:
        return fast.claims(expires_after_seconds=HOUR)

    return {"dynamodb": (dynamo(), dynamo()), "sqlite": (sqlite(), sqlite())}


def test_one_write_takes_over_a_claim_only_once_its_invocation_is_over_in_both_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, (holder, copy) in keeper_pairs(tmp_path, monkeypatch).items():
        copy.register_lambda_context(LambdaContextStub("b"))
        holder.register_lambda_context(LambdaContextStub("a", timeout_ms=600_000))
        refused: list[BaseException] = []

        def held(copy: Any = copy, refused: list[BaseException] = refused) -> list[str]:
            with pytest.raises(ClaimInProgressError) as error:
                copy.keep_first("scorer#e-1", ["bmV3"])
            refused.append(error.value)
            return ["b2xk"]

        assert holder.run_once("scorer#e-1", held) == ["b2xk"], name
        assert "scorer#e-1" in str(refused[0])
        assert copy.keep_first("scorer#e-1", ["bmV3"]) == ["b2xk"], name  # completed since

        holder.register_lambda_context(LambdaContextStub("a", timeout_ms=-1_000))  # over
        taken: list[object] = []

        def abandoned(copy: Any = copy, taken: list[object] = taken) -> list[str]:
            taken.append(copy.keep_first("scorer#e-2", ["bmV3"]))
            return ["b2xk"]

        holder.run_once("scorer#e-2", abandoned)
        assert taken == [None], name  # the copy stored its events: the claim was stale


def test_a_holder_whose_claim_was_taken_over_does_not_replace_the_new_owner_s_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late: dict[str, object] = {}
    stored: dict[str, object] = {}
    for name, (holder, copy) in keeper_pairs(tmp_path, monkeypatch).items():
        # the holder's invocation looks over to the copy (a remaining time read late, or a
        # clock ahead of the holder's): the copy takes over and stores its events first
        holder.register_lambda_context(LambdaContextStub("a", timeout_ms=-1_000))
        copy.register_lambda_context(LambdaContextStub("b"))

        def taken_over(copy: Any = copy) -> list[str]:
            assert copy.keep_first("scorer#e-1", ["bmV3"]) is None  # stored, then published
            return ["b2xk"]

        try:
            late[name] = holder.run_once("scorer#e-1", taken_over)
        except ClaimInProgressError:
            late[name] = "refused"
        stored[name] = copy.keep_first("scorer#e-1", ["b3RoZXI="])

    # the events already published stay the stored ones; the late holder gets them or a refusal
    assert stored == {"dynamodb": ["bmV3"], "sqlite": ["bmV3"]}
    assert all(outcome in (["bmV3"], "refused") for outcome in late.values())


def copy_holding_the_claim(copy: Any, key: str) -> tuple[threading.Event, Callable[[], Any]]:
    """Start `copy.run_once(key, ...)` in a thread whose work returns `["bmV3"]` once the
    returned event is set; returns (that event, a call joining the thread for its result),
    after the copy's work has started (the copy then holds the claim)."""
    running, release = threading.Event(), threading.Event()
    outcome: list[Any] = []

    def work() -> list[str]:
        running.set()
        assert release.wait(30)
        return ["bmV3"]

    thread = threading.Thread(target=lambda: outcome.append(copy.run_once(key, work)), daemon=True)
    thread.start()
    assert running.wait(30)

    def result() -> Any:
        release.set()
        thread.join(30)
        return outcome[0]

    return release, result


@pytest.mark.parametrize("holder_fails", [True, False], ids=["fails late", "completes late"])
def test_a_holder_whose_claim_a_running_copy_took_over_neither_drops_nor_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, holder_fails: bool
) -> None:
    for name, (holder, copy) in keeper_pairs(tmp_path, monkeypatch).items():
        # the holder's invocation looks over: a copy takes its claim over and is still running
        holder.register_lambda_context(LambdaContextStub("a", timeout_ms=-1_000))
        copy.register_lambda_context(LambdaContextStub("b", timeout_ms=600_000))
        copies: list[Callable[[], Any]] = []

        def late(copy: Any = copy, copies: list[Callable[[], Any]] = copies) -> list[str]:
            copies.append(copy_holding_the_claim(copy, "scorer#e-1")[1])
            if holder_fails:
                raise RuntimeError("handler failed")
            return ["b2xk"]

        # failing, the holder releases only its own claim; completing, it is refused
        # (transient): either way the copy still holds the key
        with pytest.raises(RuntimeError if holder_fails else ClaimInProgressError):
            holder.run_once("scorer#e-1", late)
        with pytest.raises(ClaimInProgressError):
            holder.run_once("scorer#e-1", lambda: pytest.fail("the copy holds the claim"))
        assert copies[0]() == ["bmV3"], name
        # a redelivery gets the copy's events
        assert holder.run_once("scorer#e-1", lambda: ["b2xk"]) == ["bmV3"], name


# ---- the one-write mode against failures and claim-first copies ---------------------------------


def test_one_write_a_handler_failing_after_publishing_stores_and_publishes_nothing() -> None:
    runs: list[str] = []
    heard: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs, fail_first=True), listener("audit", heard)])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    with record_put_events() as put:
        first = harness.deliver("scorer", FACTS)

    assert len(first.failed_ids) == 1  # transient: retried
    assert put.count == 0
    assert harness.idempotency_records() == []
    harness.run_until_idle()
    assert runs == [order.id, order.id]
    record = claim_item(harness, claim_id(harness, claim_key("scorer", order.source, order.id)))
    assert record is not None
    assert {d["data"]["run"] for d in stored_details(record)} == {2}
    assert len(heard) == 2 and harness.dead_letters() == []


def test_one_write_copy_meeting_a_claim_first_holder_retries_then_resends_its_events() -> None:
    runs: list[str] = []
    one_write = scorer(ONE_WRITE, runs)
    claim_first = Agent("scorer", events_produced=["order.scored", "order.noted"])
    inner: dict[str, Any] = {}

    @claim_first.on_event("order.placed", topic=FACTS)
    def score(event: Any, context: Any) -> None:
        # while this claim-first copy holds the claim, the one-write copy (the agent after a
        # switch of mode, another execution environment) handles the duplicate record
        duplicate = inner["duplicate"]
        inner["response"] = one_write.lambda_handler(duplicate, LambdaContextStub("soorma-b"))
        context.bus.announce("order.scored", {"run": "claim-first"})

    harness = MotoHarness([claim_first])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    harness.put(order)
    messages = harness.receive("scorer", FACTS)
    assert len(messages) == 2
    _, arn, _ = harness.queue("scorer", FACTS)
    duplicate = inner["duplicate"] = lambda_event(messages[1:], arn, queue_region(arn))

    with record_put_events() as put:
        assert harness.deliver("scorer", FACTS, messages[:1]).failed_ids == []

    assert inner["response"] == {
        "batchItemFailures": [{"itemIdentifier": messages[1]["MessageId"]}]
    }
    assert runs == [order.id]  # the one-write copy ran its handler ...
    assert [d["data"]["run"] for d in scorer_details(put)] == ["claim-first"]  # ... not its events
    with record_put_events() as resent:  # SQS delivers the duplicate again, to the one-write copy
        assert one_write.lambda_handler(duplicate, LambdaContextStub("soorma-b")) == {
            "batchItemFailures": []
        }
    assert resent.calls == put.calls  # the claim-first copy's events, the very entries


def test_one_write_redelivery_after_a_partly_failed_flush_resends_the_first_runs_bytes() -> None:
    runs: list[str] = []
    heard: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs), listener("audit", heard)])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)

    def noted(call: int, index: int, entry: dict[str, Any]) -> bool:
        return bool(entry["DetailType"] == "order.noted")

    with fail_put_events_entries(noted) as put:
        first = harness.deliver("scorer", FACTS)
    assert len(first.failed_ids) == 1  # handled, stored, but not all put
    first_entries = {json.loads(e["Detail"])["id"]: e["Detail"] for e in put.calls[0]}

    with record_put_events() as again:
        assert harness.deliver("scorer", FACTS).failed_ids == []

    assert runs == [order.id, order.id]  # one-write: the redelivery ran the handler again
    assert {json.loads(e["Detail"])["id"]: e["Detail"] for e in again.calls[0]} == first_entries
    harness.run_until_idle()
    assert sorted(heard) == sorted(first_entries)  # each event handled once downstream


# ---- agents sharing an envelope id, EventBridge replays -----------------------------------------


def test_two_agents_handling_one_envelope_keep_separate_claims() -> None:
    runs: list[str] = []
    checker = Agent("checker", claims=ONE_WRITE)
    checked: list[str] = []

    @checker.on_event("order.placed", topic=FACTS)
    def check(event: Any, context: Any) -> None:
        checked.append(event.id)
        context.bus.announce("order.checked", {"order": event.data["order"]})

    harness = MotoHarness([scorer(CLAIM_FIRST, runs), checker])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    # the checker's claim is taken first and completed: the scorer must not take it for its own
    assert harness.deliver("checker", FACTS).failed_ids == []
    with record_put_events() as put:
        assert harness.deliver("scorer", FACTS).failed_ids == []

    assert runs == checked == [order.id]
    assert [d["type"] for d in put.details()] == ["order.scored", "order.noted"]
    records = {r["id"]["S"]: r for r in harness.idempotency_records()}
    assert set(records) == {
        claim_id(harness, claim_key("scorer", order.source, order.id)),
        claim_id(harness, claim_key("checker", order.source, order.id)),
    }
    sources = {ident: {d["source"] for d in stored_details(r)} for ident, r in records.items()}
    assert sorted(map(sorted, sources.values())) == [["soorma.checker"], ["soorma.scorer"]]


def archive(harness: MotoHarness) -> str:
    """An archive of every event on the bus (before anything is sent)."""
    bus_arn = harness.events.describe_event_bus(Name=harness.platform.bus_name)["Arn"]
    arn: str = harness.events.create_archive(ArchiveName="orders", EventSourceArn=bus_arn)[
        "ArchiveArn"
    ]
    return arn


def replay(harness: MotoHarness, archive_arn: str, name: str, around: EventEnvelope) -> None:
    """Replay what was archived around `around`'s time (EventBridge adds `replay-name` to each
    replayed event)."""
    harness.events.start_replay(
        ReplayName=name,
        EventSourceArn=archive_arn,
        EventStartTime=around.time.replace(year=around.time.year - 1),
        EventEndTime=around.time.replace(year=around.time.year + 1),
        Destination={
            "Arn": harness.events.describe_event_bus(Name=harness.platform.bus_name)["Arn"]
        },
    )


def test_one_write_replay_is_handled_again_with_new_ids_and_redelivered_with_the_same() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs)])
    archive_arn = archive(harness)
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    with record_put_events() as original:
        harness.run_until_idle()

    replay(harness, archive_arn, "after-bugfix", order)
    [replayed] = harness.receive("scorer", FACTS)
    assert json.loads(replayed["Body"])["replay-name"] == "after-bugfix"
    with record_put_events() as first:
        assert harness.deliver("scorer", FACTS, [replayed]).failed_ids == []
    harness.send_raw("scorer", FACTS, replayed["Body"])  # the replayed record, delivered again
    with record_put_events() as again:
        assert harness.deliver("scorer", FACTS).failed_ids == []

    assert runs == [order.id] * 3
    assert [d["data"]["run"] for d in first.details()] == [2, 2]  # handled again, on purpose
    assert not set(ids_put(first)) & set(ids_put(original))  # with new ids
    assert again.calls == first.calls  # its redelivery re-sends the replay's first output
    assert len(harness.idempotency_records()) == 2


def test_an_event_id_spelling_a_replay_key_does_not_take_that_replay_s_claim() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(CLAIM_FIRST, runs)])
    archive_arn = archive(harness)
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    harness.run_until_idle()
    lookalike = EventEnvelope(
        id=f"{order.id}#replay=after-bugfix",
        source="soorma.shop",
        type="order.placed",
        topic=FACTS,
        data={"order": "o-2"},
    )
    harness.put(lookalike)  # any producer may choose its ids (CloudEvents: any string)
    harness.run_until_idle()
    assert runs == [order.id, lookalike.id]

    replay(harness, archive_arn, "after-bugfix", order)
    replayed = harness.receive("scorer", FACTS)
    [of_order] = [m for m in replayed if json.loads(m["Body"])["detail"]["id"] == order.id]
    with record_put_events() as put:
        assert harness.deliver("scorer", FACTS, [of_order]).failed_ids == []

    # the replay's own events (ids derived with the replay name), not the lookalike's re-put
    assert {d["data"]["run"] for d in put.details()} == {3}
    assert runs == [order.id, lookalike.id, order.id]  # the replay of the order ran
