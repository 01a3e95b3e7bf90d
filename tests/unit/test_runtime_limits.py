"""The runtime at its limits, on the in-memory bus (the real runtime, SQS/EventBridge shapes):
PutEvents requests bounded by bytes, re-puts byte-identical, publish-time failures permanent,
loops stopped at the hop limit, redeliveries older than the claim TTL refused."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from soorma import Agent
from soorma.config import DEFAULT_CLAIM_TTL_SECONDS, DEFAULT_MAX_HOPS
from soorma.publishing import MAX_PUT_EVENTS_REQUEST_BYTES
from soorma.runtime.loops import LOOP_NOTICE_TYPE
from soorma.runtime.records import REDRIVEN_ATTRIBUTE
from soorma_common import EventEnvelope, EventTopic
from soorma_common.delivery import DLQ_RETENTION_SECONDS
from soorma_common.naming import queue_name
from soorma_dev.harness import LambdaContextStub
from soorma_dev.inmemory import InMemoryBus
from soorma_dev.sqs_events import lambda_event

FACTS = EventTopic.BUSINESS_FACTS


def request_bytes(entries: list[dict[str, Any]]) -> int:
    """A PutEvents request's size as EventBridge counts it (Source + DetailType + Detail)."""
    return sum(len((e["Source"] + e["DetailType"] + e["Detail"]).encode()) for e in entries)


def big_publisher() -> Agent:
    agent = Agent(name="big-publisher")

    @agent.on_event("doc.received", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        context.bus.announce("doc.stored", {"text": "x" * (200 * 1024)})

    return agent


def test_one_putevents_request_stays_under_256_kb_across_a_batch() -> None:
    with InMemoryBus([big_publisher()]) as bus:
        for n in range(10):
            bus.send("doc.received", {"n": n}, topic=FACTS)
        bus.run_until_idle()
        flushes = [call for call in bus.put_calls if call[0]["Source"] == "soorma.big-publisher"]

    assert sum(len(call) for call in flushes) == 10  # every event put, none lost
    assert max(request_bytes(call) for call in flushes) <= MAX_PUT_EVENTS_REQUEST_BYTES
    assert bus.dead_letters() == []


def scorer() -> Agent:
    agent = Agent(name="scorer")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        # keys in an order a sorted dump would change, and text JSON would escape
        context.bus.announce("order.scored", {"zeta": 1, "alpha": 'é "q"', "mid": [3, 1]})

    return agent


def test_a_redelivered_record_reputs_the_very_bytes_of_its_first_put() -> None:
    with InMemoryBus([scorer()]) as bus:
        order = bus.send("order.placed", {"order": "o-1"}, topic=FACTS)
        bus.run_until_idle()
        bus.put(order)  # EventBridge delivers at least once: the same envelope again
        bus.run_until_idle()
        details = [
            e["Detail"] for call in bus.put_calls for e in call if e["DetailType"] == "order.scored"
        ]

    assert len(details) == 2
    assert details[0] == details[1]  # byte-identical, not merely equal as JSON


def spaced_publisher() -> Agent:
    agent = Agent(name="spaced")

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        context.bus.announce("order shipped", {"order": "o-1"})

    return agent


def test_an_event_type_with_white_space_is_dead_lettered_at_once_naming_the_field() -> None:
    with InMemoryBus([spaced_publisher()]) as bus:
        bus.send("order.placed", {"order": "o-1"}, topic=FACTS)
        bus.run_until_idle()
        [letter] = bus.dead_letters("spaced")
        handlings = [h for h in bus.handlings() if h.agent == "spaced"]

    assert [h.outcome for h in handlings] == ["dead-lettered"]  # no retries: permanent
    assert letter.reason is not None and "type" in letter.reason
    assert "'order shipped'" in letter.reason


def echo_loop() -> Agent:
    agent = Agent(name="echo")

    @agent.on_event("*", topic=FACTS, include_own_events=True)
    def handle(event: EventEnvelope, context: Any) -> None:
        context.bus.announce("echo.heard", {"from": event.type})

    return agent


def test_an_agent_triggering_itself_stops_at_the_hop_limit_with_one_dead_letter_and_notice() -> (
    None
):
    with InMemoryBus([echo_loop()]) as bus:
        bus.send("echo.started", {}, topic=FACTS)
        bus.run_until_idle(max_batches=1000)
        letters = bus.dead_letters("echo")
        notices = [e for e in bus.published if e.type == LOOP_NOTICE_TYPE]
        handled = bus.handled("echo")

    assert len(handled) == DEFAULT_MAX_HOPS + 1  # hops 0 (sent from outside) to the limit
    assert [e.hop_count or 0 for e in handled] == list(range(DEFAULT_MAX_HOPS + 1))
    [letter] = letters
    assert letter.envelope is not None and letter.envelope.hop_count == DEFAULT_MAX_HOPS + 1
    assert letter.reason is not None and "SOORMA_MAX_HOPS" in letter.reason
    [notice] = notices
    assert notice.topic == EventTopic.SYSTEM_EVENTS
    assert notice.source == "soorma.echo"
    assert notice.causation_id == letter.envelope.id
    assert notice.correlation_id == letter.envelope.correlation_id
    assert notice.hop_count is None
    assert notice.data["hop_count"] == DEFAULT_MAX_HOPS + 1


def counter() -> tuple[Agent, list[str]]:
    agent = Agent(name="counter")
    runs: list[str] = []

    @agent.on_event("order.placed", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        runs.append(event.id)

    return agent, runs


def deliver_body(
    bus: InMemoryBus, agent: Agent, body: str, *, redriven: bool = True
) -> dict[str, Any]:
    arn = f"arn:aws:sqs:{bus.region}:{bus.account}:{queue_name(bus.stage, agent.name, FACTS)}"
    message = {
        "MessageId": f"m-{time.monotonic_ns()}",
        "ReceiptHandle": "r",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": (
            {REDRIVEN_ATTRIBUTE: {"DataType": "String", "StringValue": "1"}} if redriven else {}
        ),
    }
    response: dict[str, Any] = agent.lambda_handler(
        lambda_event([message], arn, bus.region), LambdaContextStub("counter")
    )
    return response


def eventbridge_body(envelope: EventEnvelope, taken: datetime) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "eb-1",
            "detail-type": envelope.type,
            "source": envelope.source,
            "time": taken.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [],
            "detail": envelope.to_wire(),
        }
    )


def test_claims_outlive_a_dead_letter_redriven_at_the_end_of_its_retention() -> None:
    assert DEFAULT_CLAIM_TTL_SECONDS > DLQ_RETENTION_SECONDS


def test_an_old_event_delivered_for_the_first_time_is_handled() -> None:
    agent, runs = counter()
    order = EventEnvelope(source="soorma.shop", type="order.placed", topic=FACTS, data={})
    old = datetime.now(UTC) - timedelta(seconds=DEFAULT_CLAIM_TTL_SECONDS + 60)
    with InMemoryBus([agent]) as bus:
        deliver_body(bus, agent, eventbridge_body(order, old), redriven=False)
        assert bus.dead_letters() == []
    assert runs == [order.id]


def test_a_redelivery_older_than_the_claim_ttl_without_a_claim_is_refused() -> None:
    agent, runs = counter()
    order = EventEnvelope(source="soorma.shop", type="order.placed", topic=FACTS, data={})
    old = datetime.now(UTC) - timedelta(seconds=DEFAULT_CLAIM_TTL_SECONDS + 60)
    with InMemoryBus([agent]) as bus:
        response = deliver_body(bus, agent, eventbridge_body(order, old))
        [letter] = bus.dead_letters("counter")

    assert response == {"batchItemFailures": []}  # dead-lettered, not retried
    assert runs == []
    assert letter.reason is not None and "claim TTL" in letter.reason


def test_an_old_redelivery_whose_claim_is_kept_is_reflushed_not_refused() -> None:
    agent, runs = counter()
    order = EventEnvelope(source="soorma.shop", type="order.placed", topic=FACTS, data={})
    recent = datetime.now(UTC) - timedelta(days=1)
    with InMemoryBus([agent]) as bus:
        deliver_body(bus, agent, eventbridge_body(order, recent))
        deliver_body(bus, agent, eventbridge_body(order, recent))
        assert bus.dead_letters() == []
    assert runs == [order.id]
