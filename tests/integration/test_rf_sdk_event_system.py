"""RF-SDK-001/002/003 ("SDK Refactoring: Event System"), each checked on the `Detail` as the
EventBridge rule delivered it to an SQS queue on moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent, Planner, Tool, Worker
from soorma.agent_spec import HandlerSpec
from soorma_common import EventEnvelope, EventTopic
from soorma_common.manifest import Subscription
from soorma_dev.harness import MotoHarness

FACTS = EventTopic.BUSINESS_FACTS
REQUESTS = EventTopic.ACTION_REQUESTS
RESULTS = EventTopic.ACTION_RESULTS
Body = Callable[[EventEnvelope, Any], None]


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def observer() -> Agent:
    """Receives everything on the topics these tests publish to: replies addressed to others
    too, which a plain subscription must ask for (`include_replies`, issue 10)."""
    agent = Agent("observer")
    for topic in (FACTS, REQUESTS, RESULTS):
        subscription = Subscription(topic=topic, event_type="*", include_replies=True)
        agent.handlers.append(HandlerSpec(subscription, lambda event, context: None))
    return agent


def run_in_handler(body: Body, *extra: Agent) -> tuple[MotoHarness, EventEnvelope]:
    """Run `body(event, context)` as the handler of a real delivery; return the harness and the
    triggering event once every queue is idle."""
    probe = Worker("probe")  # with a result handler: a request's reply must reach one
    probe.on_event("probe.started", topic=FACTS)(body)
    probe.on_result()(lambda event, context: None)
    harness = MotoHarness([probe, observer(), *extra])
    trigger = harness.send("probe.started", {}, topic=FACTS)
    harness.run_until_idle()
    return harness, trigger


def observed(harness: MotoHarness, event_type: str) -> list[dict[str, Any]]:
    return [d for d in harness.delivered_details("observer") if d["type"] == event_type]


# ---- RF-SDK-001: no topic inference; request / respond / announce ----------------------------


def test_publish_requires_topic() -> None:
    def body(event: EventEnvelope, context: Any) -> None:
        with pytest.raises(TypeError):
            context.bus.publish(event_type="test.event", data={})
        context.bus.publish(topic=FACTS, event_type="test.event", data={"ok": True})

    harness, _ = run_in_handler(body)

    [detail] = observed(harness, "test.event")
    assert detail["topic"] == "business-facts"
    assert detail["data"] == {"ok": True}


def test_publish_with_response_event() -> None:
    ids: list[str] = []

    async def body(event: EventEnvelope, context: Any) -> None:
        ids.append(
            await context.bus.publish(
                topic="action-requests",
                event_type="test.requested",
                data={},
                response_event="test.completed",
            )
        )

    harness, _ = run_in_handler(body)

    [detail] = observed(harness, "test.requested")
    assert detail["id"] == ids[0]
    assert detail["topic"] == "action-requests"
    assert detail["responseevent"] == "test.completed"


def test_request_requires_response_event() -> None:
    def body(event: EventEnvelope, context: Any) -> None:
        with pytest.raises(TypeError):
            context.bus.request(event_type="test.event", data={})
        context.bus.request(event_type="test.event", data={}, response_event="test.done")

    harness, trigger = run_in_handler(body)

    [detail] = observed(harness, "test.event")
    assert detail["topic"] == "action-requests"
    assert detail["responseevent"] == "test.done"
    assert detail["responsetopic"] == "action-results"
    assert detail["replyto"] == "probe"
    assert detail["correlationid"] == trigger.correlation_id


def test_respond_requires_correlation_id() -> None:
    def body(event: EventEnvelope, context: Any) -> None:
        with pytest.raises(TypeError):
            context.bus.respond(event_type="test.result", data={})
        context.bus.respond(event_type="test.result", data={}, correlation_id=event.correlation_id)

    harness, trigger = run_in_handler(body)

    [detail] = observed(harness, "test.result")
    assert detail["topic"] == "action-results"
    assert detail["correlationid"] == trigger.correlation_id
    assert detail["causationid"] == trigger.id


def test_announce_publishes_a_business_fact() -> None:
    harness, _ = run_in_handler(lambda e, c: c.bus.announce("order.placed", {"order_id": "123"}))

    [detail] = observed(harness, "order.placed")
    assert detail["topic"] == "business-facts"
    assert "responseevent" not in detail


# ---- RF-SDK-002: response_event on action requests ------------------------------------------


def test_action_request_includes_response_event() -> None:
    def body(event: EventEnvelope, context: Any) -> None:
        context.bus.request(
            "research.requested", {"topic": "AI trends"}, response_event="research.completed"
        )

    harness, _ = run_in_handler(body)

    [detail] = observed(harness, "research.requested")
    assert detail["responseevent"] == "research.completed"
    assert detail["responsetopic"] == "action-results"


def test_tool_publishes_to_specified_response_event() -> None:
    tool = Tool("adder")

    @tool.on_invoke("sum.requested")
    def add(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"sum": sum(event.data["terms"])}

    def body(event: EventEnvelope, context: Any) -> None:
        context.bus.request("sum.requested", {"terms": [1, 2]}, response_event="sum.v2.answered")

    harness, _ = run_in_handler(body, tool)

    [reply] = observed(harness, "sum.v2.answered")
    assert reply["data"] == {"sum": 3}
    assert reply["replyto"] == "probe"
    assert observed(harness, "sum.requested.completed") == []


def test_worker_publishes_to_specified_response_event() -> None:
    worker = Worker("researcher")

    @worker.on_task("research.requested")
    async def research(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"findings": [event.data["topic"]]}

    def body(event: EventEnvelope, context: Any) -> None:
        context.bus.request("research.requested", {"topic": "x"}, response_event="research.found")

    harness, _ = run_in_handler(body, worker)

    [reply] = observed(harness, "research.found")
    assert reply["data"] == {"findings": ["x"]}
    assert reply["topic"] == "action-results"
    assert reply["replyto"] == "probe"


# ---- RF-SDK-003: on_event(event_type, *, topic) ---------------------------------------------


def test_on_event_requires_topic_for_base_agent() -> None:
    agent = Agent(name="test")

    with pytest.raises(TypeError):

        @agent.on_event("test.event")  # type: ignore[call-arg]
        async def handler(event: EventEnvelope, ctx: Any) -> None:
            pass

    assert agent.manifest().subscriptions == []


def test_on_event_accepts_topic_keyword() -> None:
    agent = Agent(name="test")
    got: list[EventEnvelope] = []

    @agent.on_event(topic="business-facts", event_type="test.event")
    async def handler(event: EventEnvelope, ctx: Any) -> None:
        got.append(event)

    [subscription] = agent.manifest().subscriptions
    assert (subscription.topic, subscription.event_type) == (FACTS, "test.event")
    harness = MotoHarness([agent])
    sent = harness.send("test.event", {"n": 1}, topic="business-facts")
    harness.send("test.event", {"n": 2}, topic="notification-events")
    harness.run_until_idle()

    [detail] = harness.delivered_details("test")
    assert detail["id"] == sent.id and detail["topic"] == "business-facts"
    assert [e.id for e in got] == [sent.id]


@pytest.mark.parametrize("kind", [Worker, Tool, Planner])
def test_worker_tool_and_planner_default_to_action_requests(kind: type[Agent]) -> None:
    agent = kind(name="defaulted")
    agent.on_event("job.requested")(lambda event, context: None)  # type: ignore[call-arg]

    [subscription] = agent.manifest().subscriptions
    assert subscription.topic == REQUESTS
    harness = MotoHarness([agent])
    harness.send("job.requested", {}, topic=REQUESTS)
    harness.run_until_idle()
    [detail] = harness.delivered_details("defaulted")
    assert detail["topic"] == "action-requests"
