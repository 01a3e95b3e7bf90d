"""The runtime on moto, events really travelling: PutEvents -> rule -> SQS -> `lambda_handler`.

Three-hop chains, sync and async handlers, batching of PutEvents, failed handlers, and PutEvents
partial failures (injected with a botocore hook on the real client).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent, Worker
from soorma.bus import derived_event_id
from soorma_common import EventTopic
from soorma_common.errors import TransientError
from soorma_dev.harness import MotoHarness, fail_put_events_entries, record_put_events

FACTS = EventTopic.BUSINESS_FACTS


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SOORMA_PUBLISH_BACKOFF_SECONDS", "0")
    with mock_aws():
        yield


def sink(name: str, event_type: str = "*", topic: EventTopic = FACTS) -> Agent:
    """An agent that only receives: what it is delivered is what travelled."""
    agent = Agent(name)

    @agent.on_event(event_type, topic=topic)
    def receive(event: Any, context: Any) -> None:
        return None

    return agent


def three_hops(fail_middle_once: bool) -> tuple[list[Agent], dict[str, Any]]:
    first, middle = Worker("hop-one"), Worker("hop-two")
    first.on_result()(lambda event, context: None)  # a request's reply must reach one
    seen: dict[str, Any] = {"attempts": 0, "ids_in_failed_attempt": []}

    @first.on_event("chain.started", topic=FACTS)
    def start(event: Any, context: Any) -> None:
        context.bus.request("chain.step", {"n": 1}, response_event="chain.stepped")

    @middle.on_event("chain.step")
    async def step(event: Any, context: Any) -> None:
        seen["attempts"] += 1
        ids = [
            await context.bus.announce("chain.finished", {"n": 2}),
            await context.bus.announce("chain.finished", {"n": 3}),
        ]
        if fail_middle_once and seen["attempts"] == 1:
            seen["ids_in_failed_attempt"] = ids
            raise TransientError("the model timed out")

    return [first, middle, sink("hop-three", "chain.finished")], seen


@pytest.mark.parametrize("fail_middle_once", [False, True])
def test_three_hop_chain_keeps_correlation_and_chains_causation(fail_middle_once: bool) -> None:
    agents, seen = three_hops(fail_middle_once)
    harness = MotoHarness(agents)
    origin = harness.send("chain.started", {"n": 0}, topic=FACTS)

    harness.run_until_idle()

    [hop_one] = harness.delivered_details("hop-one")
    hop_two = harness.delivered_details("hop-two")
    hop_three = harness.delivered_details("hop-three")
    assert hop_one["id"] == origin.id
    assert {d["id"] for d in hop_two} == {derived_event_id("hop-one", origin.source, origin.id, 0)}
    assert len(hop_three) == 2
    for detail in [hop_one, *hop_two, *hop_three]:
        assert detail["correlationid"] == origin.correlation_id
    assert all(d["causationid"] == origin.id for d in hop_two)
    assert {d["causationid"] for d in hop_three} == {hop_two[0]["id"]}
    assert hop_two[0]["responseevent"] == "chain.stepped"
    assert hop_two[0]["replyto"] == "hop-one"
    if fail_middle_once:
        assert seen["attempts"] == 2
        assert len(hop_two) == 2  # the same record, delivered twice
        failed = [d for d in harness.deliveries if d.agent == "hop-two" and d.failed_ids]
        assert len(failed) == 1
        # the retry publishes exactly the ids the failed attempt had been given
        assert [d["id"] for d in hop_three] == seen["ids_in_failed_attempt"]
    else:
        assert seen["attempts"] == 1


def test_sync_and_async_handlers_both_publish() -> None:
    agent = Agent("both-kinds")

    @agent.on_event("sync.happened", topic=FACTS)
    def sync_handler(event: Any, context: Any) -> None:
        context.bus.announce("sync.seen", {"from": event.id})

    @agent.on_event("async.happened", topic=FACTS)
    async def async_handler(event: Any, context: Any) -> None:
        await context.bus.announce("async.seen", {"from": event.id})

    harness = MotoHarness([agent, sink("watcher")])
    sync_in = harness.send("sync.happened", {}, topic=FACTS)
    async_in = harness.send("async.happened", {}, topic=FACTS)

    harness.run_until_idle()

    seen = {
        d["type"]: d for d in harness.delivered_details("watcher") if d["source"] != "soorma.tests"
    }
    assert set(seen) == {"sync.seen", "async.seen"}
    assert seen["sync.seen"]["data"] == {"from": sync_in.id}
    assert seen["async.seen"]["data"] == {"from": async_in.id}


def test_25_published_events_take_3_put_events_calls() -> None:
    agent = Agent("fan-out")

    @agent.on_event("burst.requested", topic=FACTS)
    def burst(event: Any, context: Any) -> None:
        for n in range(25):
            context.bus.announce("burst.item", {"n": n})

    harness = MotoHarness([agent, sink("burst-sink", "burst.item")])
    origin = harness.send("burst.requested", {}, topic=FACTS)
    with record_put_events() as put_events:
        harness.deliver("fan-out", FACTS)

    assert [len(call) for call in put_events.calls] == [10, 10, 5]
    harness.run_until_idle()
    delivered = harness.delivered_details("burst-sink")
    assert sorted(d["data"]["n"] for d in delivered) == list(range(25))
    assert {d["causationid"] for d in delivered} == {origin.id}


def test_a_batch_flushes_its_records_events_together() -> None:
    agent = Agent("batcher")

    @agent.on_event("tick.happened", topic=FACTS)
    def tick(event: Any, context: Any) -> None:
        for n in range(4):
            context.bus.announce("tock.happened", {"tick": event.data["n"], "n": n})

    harness = MotoHarness([agent, sink("tock-sink", "tock.happened")])
    for n in range(3):
        harness.send("tick.happened", {"n": n}, topic=FACTS)
    with record_put_events() as put_events:
        delivery = harness.deliver("batcher", FACTS)

    assert len(delivery.event["Records"]) == 3
    assert [len(call) for call in put_events.calls] == [10, 2]  # 12 events, 3 records
    harness.run_until_idle()
    assert len(harness.delivered_details("tock-sink")) == 12


def test_a_failed_handler_publishes_nothing() -> None:
    agent = Agent("fails-late")

    @agent.on_event("work.requested", topic=FACTS)
    def work(event: Any, context: Any) -> None:
        context.bus.announce("work.half_done", {})
        raise RuntimeError("crashed after publishing")

    harness = MotoHarness([agent, sink("half-sink", "work.half_done")])
    harness.send("work.requested", {}, topic=FACTS)
    with record_put_events() as put_events:
        delivery = harness.deliver("fails-late", FACTS)

    assert len(delivery.failed_ids) == 1
    assert put_events.count == 0
    assert harness.receive("half-sink", FACTS) == []
    assert harness.queue_depth("fails-late", FACTS) == 1  # back on the queue for a retry


def test_put_events_partial_failure_is_retried_until_every_entry_is_put() -> None:
    agent = Agent("partial")

    @agent.on_event("many.requested", topic=FACTS)
    def many(event: Any, context: Any) -> None:
        for n in range(4):
            context.bus.announce("many.item", {"n": n})

    harness = MotoHarness([agent, sink("partial-sink", "many.item")])
    harness.send("many.requested", {}, topic=FACTS)

    def first_call_loses_odd_entries(call: int, index: int, entry: dict[str, Any]) -> bool:
        return call == 0 and index % 2 == 1

    with fail_put_events_entries(first_call_loses_odd_entries) as put_events:
        delivery = harness.deliver("partial", FACTS)

    assert delivery.failed_ids == []
    assert [len(call) for call in put_events.calls] == [4, 2]
    retried = [d["data"]["n"] for d in put_events.details()[4:]]
    assert retried == [1, 3]
    harness.run_until_idle()
    assert sorted(d["data"]["n"] for d in harness.delivered_details("partial-sink")) == [0, 1, 2, 3]


def test_put_events_failing_every_attempt_fails_the_record_then_redelivery_reflushes() -> None:
    agent = Agent("stubborn")
    runs: list[str] = []

    @agent.on_event("once.requested", topic=FACTS)
    def once(event: Any, context: Any) -> None:
        runs.append(event.id)
        context.bus.announce("once.done", {})

    harness = MotoHarness([agent, sink("stubborn-sink", "once.done")])
    harness.send("once.requested", {}, topic=FACTS)
    with fail_put_events_entries(lambda call, index, entry: True) as put_events:
        delivery = harness.deliver("stubborn", FACTS)

    assert len(delivery.failed_ids) == 1
    assert put_events.count == 4  # SOORMA_PUBLISH_MAX_ATTEMPTS
    assert harness.receive("stubborn-sink", FACTS) == []

    harness.run_until_idle()
    assert len(runs) == 1  # the stored events were flushed; the handler did not run again
    [done] = harness.delivered_details("stubborn-sink")
    assert done["id"] == put_events.details()[0]["id"]
