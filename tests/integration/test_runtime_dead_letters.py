"""Permanent failures go to the DLQ at once, with their reason, while batch-mates succeed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import MotoHarness
from soorma_dev.testing import DeadLetter

FACTS = EventTopic.BUSINESS_FACTS


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def reason(letter: DeadLetter) -> str:
    """The error the runtime sent the letter with (`"<ErrorType>: <message>"`)."""
    assert letter.kind == "permanent-error"
    return letter.reason or ""


def error_type(letter: DeadLetter) -> str:
    return reason(letter).split(":", 1)[0]


def test_poison_and_forged_records_are_dead_lettered_while_batch_mates_succeed() -> None:
    agent = Agent("ledger")
    handled: list[str] = []

    @agent.on_event("payment.settled", topic=FACTS)
    def settle(event: EventEnvelope, context: Any) -> None:
        handled.append(event.id)

    harness = MotoHarness([agent])
    good_before = harness.send("payment.settled", {"amount": 1}, topic=FACTS)
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
    good_after = harness.send("payment.settled", {"amount": 2}, topic=FACTS)

    messages = harness.receive("ledger", FACTS)
    assert len(messages) == 4
    delivery = harness.deliver("ledger", FACTS, messages)

    assert delivery.failed_ids == []
    assert sorted(handled) == sorted([good_before.id, good_after.id])
    assert harness.queue_depth("ledger", FACTS) == 0
    dead = {error_type(m): m for m in harness.dead_letters("ledger")}
    assert set(dead) == {"MalformedRecordError", "ForgedSourceError"}
    assert "not JSON" in reason(dead["MalformedRecordError"])
    assert dead["MalformedRecordError"].body == "{not json"
    assert "soorma.intruder" in reason(dead["ForgedSourceError"])
    assert json.loads(dead["ForgedSourceError"].body)["detail"]["id"] == forged.id


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
    harness.send("report.requested", {}, topic=FACTS, tenant_id="tenant-a")
    delivery = harness.deliver("sneaky", FACTS)

    assert delivery.failed_ids == []  # permanent: dead-lettered, not retried
    [dead] = harness.dead_letters("sneaky")
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

    [dead] = harness.dead_letters("narrow")
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
    big = harness.send("report.requested", {"size": 5000}, topic=FACTS)
    small = harness.send("report.requested", {"size": 10}, topic=FACTS)
    delivery = harness.deliver("verbose", FACTS)

    assert delivery.failed_ids == []
    [dead] = harness.dead_letters("verbose")
    assert error_type(dead) == "EventTooLargeError"
    assert "2000-byte limit" in reason(dead) and "report.ready" in reason(dead)
    assert json.loads(dead.body)["detail"]["id"] == big.id
    harness.run_until_idle()
    published = [
        d for d in harness.delivered_details("size-watch") if d["source"] != "soorma.tests"
    ]
    assert {d["causationid"] for d in published} == {small.id}
    assert sorted(d["type"] for d in published) == ["report.ready", "report.small"]
