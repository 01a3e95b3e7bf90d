"""Permanent failures go to the DLQ at once, with their reason, while batch-mates succeed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent
from soorma.runtime.dead_letters import ERROR_TYPE_ATTRIBUTE, REASON_ATTRIBUTE
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import MotoHarness

FACTS = EventTopic.BUSINESS_FACTS


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def reason(message: dict[str, Any]) -> str:
    return str(message["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"])


def error_type(message: dict[str, Any]) -> str:
    return str(message["MessageAttributes"][ERROR_TYPE_ATTRIBUTE]["StringValue"])


def test_poison_and_forged_records_are_dead_lettered_while_batch_mates_succeed() -> None:
    agent = Agent("ledger")
    handled: list[str] = []

    @agent.on_event("payment.settled", topic=FACTS)
    def settle(event: EventEnvelope, context: Any) -> None:
        handled.append(event.id)

    harness = MotoHarness([agent])
    publisher = harness.publisher()
    good_before = publisher.publish(FACTS, "payment.settled", {"amount": 1})
    harness.send_raw("ledger", FACTS, "{not json")
    forged = EventEnvelope(source="soorma.ledger", type="payment.settled", topic=FACTS, data={})
    harness.events.put_events(
        Entries=[
            {
                "Source": "soorma.intruder",
                "DetailType": forged.type,
                "Detail": forged.to_json(),
                "EventBusName": harness.platform.bus_name,
            }
        ]
    )
    good_after = publisher.publish(FACTS, "payment.settled", {"amount": 2})

    messages = harness.receive("ledger", FACTS)
    assert len(messages) == 4
    delivery = harness.deliver("ledger", FACTS, messages)

    assert delivery.failed_ids == []
    assert sorted(handled) == sorted([good_before.id, good_after.id])
    assert harness.queue_depth("ledger", FACTS) == 0
    dead = {error_type(m): m for m in harness.dead_letters("ledger", FACTS)}
    assert set(dead) == {"MalformedRecordError", "ForgedSourceError"}
    assert "not JSON" in reason(dead["MalformedRecordError"])
    assert dead["MalformedRecordError"]["Body"] == "{not json"
    assert "soorma.intruder" in reason(dead["ForgedSourceError"])
    assert json.loads(dead["ForgedSourceError"]["Body"])["detail"]["id"] == forged.id


def test_overriding_tenant_inside_a_handler_fails_and_publishes_nothing() -> None:
    agent = Agent("sneaky")
    watcher = Agent("tenant-watch")

    @agent.on_event("report.requested", topic=FACTS)
    def report(event: EventEnvelope, context: Any) -> None:
        context.bus.announce("report.ready", {}, tenant_id="tenant-b")

    @watcher.on_event("report.ready", topic=FACTS)
    def ready(event: EventEnvelope, context: Any) -> None:
        return None

    harness = MotoHarness([agent, watcher])
    harness.publisher().publish(FACTS, "report.requested", {}, tenant_id="tenant-a")
    delivery = harness.deliver("sneaky", FACTS)

    assert delivery.failed_ids == []  # permanent: dead-lettered, not retried
    [dead] = harness.dead_letters("sneaky", FACTS)
    assert error_type(dead) == "TrustViolationError"
    assert "tenant_id" in reason(dead) and "tenant-b" in reason(dead)
    assert harness.receive("tenant-watch", FACTS) == []


def test_an_event_with_no_handler_is_dead_lettered() -> None:
    agent = Agent("narrow")

    @agent.on_event("a.happened", topic=FACTS)
    def handle(event: EventEnvelope, context: Any) -> None:
        return None

    harness = MotoHarness([agent])
    stray = EventEnvelope(source="soorma.tests", type="b.happened", topic=FACTS)
    body = {
        "version": "0",
        "id": "x",
        "detail-type": stray.type,
        "source": stray.source,
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": stray.to_wire(),
    }
    harness.send_raw("narrow", FACTS, json.dumps(body))
    harness.deliver("narrow", FACTS)

    [dead] = harness.dead_letters("narrow", FACTS)
    assert error_type(dead) == "NoHandlerError"
    assert "b.happened" in reason(dead)


def test_an_oversized_event_dead_letters_its_record_and_sends_none_of_its_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOORMA_MAX_EVENT_BYTES", "2000")
    agent = Agent("verbose")
    watcher = Agent("size-watch")

    @agent.on_event("report.requested", topic=FACTS)
    def report(event: EventEnvelope, context: Any) -> None:
        context.bus.announce("report.small", {})
        context.bus.announce("report.ready", {"text": "x" * event.data["size"]})

    watcher.on_event("*", topic=FACTS)(lambda event, context: None)
    harness = MotoHarness([agent, watcher])
    publisher = harness.publisher()
    big = publisher.publish(FACTS, "report.requested", {"size": 5000})
    small = publisher.publish(FACTS, "report.requested", {"size": 10})
    delivery = harness.deliver("verbose", FACTS)

    assert delivery.failed_ids == []
    [dead] = harness.dead_letters("verbose", FACTS)
    assert error_type(dead) == "EventTooLargeError"
    assert "2000-byte limit" in reason(dead) and "report.ready" in reason(dead)
    assert json.loads(dead["Body"])["detail"]["id"] == big.id
    harness.run_until_idle()
    published = [
        d for d in harness.delivered_details("size-watch") if d["source"] != "soorma.tests"
    ]
    assert {d["causationid"] for d in published} == {small.id}
    assert sorted(d["type"] for d in published) == ["report.ready", "report.small"]
