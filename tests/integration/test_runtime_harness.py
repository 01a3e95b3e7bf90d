"""`MotoHarness` leaves the process as it found it: the `SOORMA_*` variables are restored."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent
from soorma.config import settings
from soorma_common import EventEnvelope, EventTopic, TransientError
from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_dev.harness import MotoHarness


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def listener() -> Agent:
    agent = Agent("env-listener")

    @agent.on_event("thing.happened", topic=EventTopic.BUSINESS_FACTS)
    def seen(event: EventEnvelope, context: Any) -> None:
        pass

    return agent


def test_closing_the_harness_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOORMA_EVENT_BUS", "the-callers-bus")
    monkeypatch.delenv("SOORMA_REGISTRY_TABLE", raising=False)
    monkeypatch.delenv("SOORMA_IDEMPOTENCY_TABLE", raising=False)
    settings.cache_clear()

    with MotoHarness([listener()]) as harness:
        assert os.environ["SOORMA_EVENT_BUS"] == harness.platform.bus_name
        assert settings().event_bus == harness.platform.bus_name
        assert os.environ["SOORMA_REGISTRY_TABLE"] == harness.platform.tables["registry"]

    assert os.environ["SOORMA_EVENT_BUS"] == "the-callers-bus"
    assert "SOORMA_REGISTRY_TABLE" not in os.environ
    assert "SOORMA_IDEMPOTENCY_TABLE" not in os.environ
    assert settings().event_bus == "the-callers-bus"  # the cached settings were dropped too
    harness.close()  # a second close changes nothing
    assert os.environ["SOORMA_EVENT_BUS"] == "the-callers-bus"


def test_a_record_moved_after_max_receives_keeps_its_last_error_as_the_reason() -> None:
    """SQS (moto) moves the record to the DLQ on the receive after its 5th failure; the dead
    letter names the last error, and the handlings end with the move."""
    agent = Agent("always-busy")

    @agent.on_event("thing.happened", topic=EventTopic.BUSINESS_FACTS)
    def busy(event: EventEnvelope, context: Any) -> None:
        raise TransientError(f"database busy for {event.data['n']}")

    with MotoHarness([agent]) as harness:
        sent = harness.send("thing.happened", {"n": 7}, topic=EventTopic.BUSINESS_FACTS)
        assert harness.run_until_idle() == MAX_RECEIVE_COUNT + 1

        outcomes = [(h.outcome, h.receive_count) for h in harness.handlings("always-busy")]
        assert outcomes == [("failed", n) for n in range(1, MAX_RECEIVE_COUNT + 1)] + [
            ("dead-lettered", MAX_RECEIVE_COUNT)
        ]
        [letter] = harness.dead_letters()
        assert letter.kind == "redrive-after-max-receives"
        assert letter.reason == "TransientError: database busy for 7"
        assert letter.envelope is not None and letter.envelope.id == sent.id
        assert harness.handlings()[-1].reason == letter.reason


def test_the_harness_traces_a_workflow_from_every_event_put_on_the_bus() -> None:
    relay = Agent("relay")

    @relay.on_event("thing.happened", topic=EventTopic.BUSINESS_FACTS)
    def forward(event: EventEnvelope, context: Any) -> None:
        context.bus.announce("thing.relayed", {})
        context.bus.announce("thing.noted", {})

    with MotoHarness([relay]) as harness:
        sent = harness.send("thing.happened", {}, topic=EventTopic.BUSINESS_FACTS)
        harness.run_until_idle()

        [root] = harness.trace(sent.correlation_id)
        assert root.envelope.id == sent.id
        assert [(h.agent, h.outcome) for h in root.handlings] == [("relay", "handled")]
        # nobody subscribes to the children: they are in the trace all the same
        assert sorted(c.envelope.type for c in root.children) == ["thing.noted", "thing.relayed"]
        assert [e.type for e in harness.published].count("thing.happened") == 1


class CrashingAgent:
    """An agent whose `lambda_handler` raises: Lambda then returns the whole batch."""

    def __init__(self, inner: Agent) -> None:
        self.inner = inner
        self.name = inner.name

    def manifest(self) -> Any:
        return self.inner.manifest()

    def use_runtime(self, runtime: Any) -> None:
        self.inner.use_runtime(runtime)

    def lambda_handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("the function ran out of memory")


def test_an_invocation_that_raises_fails_every_record_of_its_batch() -> None:
    with MotoHarness([CrashingAgent(listener())]) as harness:
        harness.send("thing.happened", {}, topic=EventTopic.BUSINESS_FACTS)
        harness.send("thing.happened", {}, topic=EventTopic.BUSINESS_FACTS)
        delivery = harness.deliver("env-listener", EventTopic.BUSINESS_FACTS)

        assert len(delivery.failed_ids) == 2
        assert [(h.outcome, h.reason) for h in harness.handlings()] == [
            ("failed", "RuntimeError: the function ran out of memory")
        ] * 2
        assert harness.queue_depth("env-listener", EventTopic.BUSINESS_FACTS) == 2
