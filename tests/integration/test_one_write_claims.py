"""The one-write claim mode on moto (`Agent(..., claims="one-write")`): one DynamoDB write per
consumed event; concurrent copies may both run the handler, only one's events reach the bus."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent, clients
from soorma_common import EventTopic
from soorma_common.errors import ClaimInProgressError
from soorma_dev.harness import LambdaContextStub, MotoHarness, record_put_events
from soorma_dev.inmemory import InMemoryClaimStore
from soorma_dev.sqs_events import lambda_event, queue_region

FACTS = EventTopic.BUSINESS_FACTS
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def scorer(copy: str, runs: list[str], barrier: threading.Barrier | None = None) -> Agent:
    """One execution environment of a one-write agent (each has its own runtime)."""
    agent = Agent("scorer", claims="one-write")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: Any, context: Any) -> None:
        runs.append(copy)
        if barrier is not None:
            barrier.wait()  # both copies have run their handler before either stores
        context.bus.announce("order.scored", {"score": random.random(), "copy": copy})
        context.bus.announce("order.noted", {"order": event.data["order"], "copy": copy})

    return agent


@contextmanager
def dynamodb_writes() -> Iterator[Counter[str]]:
    """Count the runtime's DynamoDB writes, each made alone, as DynamoDB orders the writes to
    one item (moto's in-process backend does not)."""
    client = clients.client("dynamodb")
    counted: Counter[str] = Counter()
    lock = threading.Lock()

    def before(model: Any, **_: Any) -> None:
        if model.name in WRITES:
            lock.acquire()
            counted[model.name] += 1

    def after(model: Any, **_: Any) -> None:
        if model.name in WRITES:
            lock.release()

    client.meta.events.register("before-call.dynamodb", before)
    client.meta.events.register("after-call.dynamodb", after)
    client.meta.events.register("after-call-error.dynamodb", after)
    try:
        yield counted
    finally:
        client.meta.events.unregister("before-call.dynamodb", before)
        client.meta.events.unregister("after-call.dynamodb", after)
        client.meta.events.unregister("after-call-error.dynamodb", after)


def test_an_unknown_claim_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="claims='once'"):
        Agent("scorer", claims="once")


def test_each_consumed_event_costs_one_write_and_is_published_once() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer("a", runs)])
    for n in range(5):
        harness.send("order.placed", {"order": f"o-{n}"}, topic=FACTS)
    with dynamodb_writes() as writes, record_put_events() as put:
        delivery = harness.deliver("scorer", FACTS)

    assert delivery.failed_ids == []
    assert len(runs) == 5
    assert writes == {"PutItem": 5}
    assert len(put.details()) == 10
    records = harness.idempotency_records()
    assert len(records) == 5
    assert {r["status"]["S"] for r in records} == {"COMPLETED"}
    assert all("in_progress_expiration" not in r for r in records)


def test_concurrent_copies_both_run_and_only_the_first_writes_events_reach_the_bus() -> None:
    runs: list[str] = []
    barrier = threading.Barrier(2)
    copies = {name: scorer(name, runs, barrier) for name in ("a", "b")}
    harness = MotoHarness([copies["a"]])
    order = harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    harness.put(order)  # EventBridge delivers at least once: the same envelope twice
    messages = harness.receive("scorer", FACTS)
    assert len(messages) == 2
    _, arn, _ = harness.queue("scorer", FACTS)
    results: dict[str, dict[str, Any]] = {}

    def invoke(name: str, message: dict[str, Any]) -> None:
        event = lambda_event([message], arn, queue_region(arn))
        results[name] = copies[name].lambda_handler(event, LambdaContextStub("soorma-scorer"))

    threads = [
        threading.Thread(target=invoke, args=(name, message))
        for name, message in zip(copies, messages, strict=True)
    ]
    with dynamodb_writes() as writes, record_put_events() as put:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(runs) == ["a", "b"]  # both copies ran the handler
    assert results == {name: {"batchItemFailures": []} for name in copies}
    assert writes == {"PutItem": 2}  # one per consumed event (the loser's is refused)
    published = put.details()
    assert len(published) == 4  # two events, flushed by each copy, same ids and bytes
    [winner] = {d["data"]["copy"] for d in published}
    assert len({d["id"] for d in published}) == 2
    [record] = harness.idempotency_records()
    stored = json.loads(record["data"]["S"])
    assert len(stored) == 2 and record["status"]["S"] == "COMPLETED"
    by_id: dict[str, set[str]] = {}
    for entry in put.calls[0] + put.calls[1]:
        by_id.setdefault(json.loads(entry["Detail"])["id"], set()).add(entry["Detail"])
    assert all(len(details) == 1 for details in by_id.values())  # the very bytes, twice
    assert winner in copies


def test_a_redelivery_re_sends_the_stored_events_not_its_own() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer("first", runs)])
    harness.send("order.placed", {"order": "o-1"}, topic=FACTS)
    [message] = harness.receive("scorer", FACTS)
    with record_put_events() as first:
        harness.deliver("scorer", FACTS, [message])
    harness.send_raw("scorer", FACTS, message["Body"])
    harness.replace_agent(scorer("retry", runs))
    with record_put_events() as retry, dynamodb_writes() as writes:
        harness.deliver("scorer", FACTS)

    assert runs == ["first", "retry"]
    assert writes == {"PutItem": 1}
    assert retry.details() == first.details()


def test_a_claim_held_by_a_claim_first_copy_is_transient() -> None:
    store = InMemoryClaimStore()
    store.register_lambda_context(LambdaContextStub("soorma-scorer"))

    def claim_first_copy() -> list[str]:
        with pytest.raises(ClaimInProgressError):
            store.keep_first("scorer#e-1", ["b"])
        return ["a"]

    assert store.run_once("scorer#e-1", claim_first_copy) == ["a"]
    assert store.keep_first("scorer#e-1", ["c"]) == ["a"]
    assert store.keep_first("scorer#e-2", ["d"]) is None
    assert store.run_once("scorer#e-2", list) == ["d"]
