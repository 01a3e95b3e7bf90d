"""Agents: decorators record subscriptions; `manifest()` is the record that CDK and the local
cloud read (also through `soorma manifest` in a child process)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from soorma import Agent, Planner, Tool, Worker
from soorma_common import AgentKind, EventDefinition, EventTopic
from soorma_dev.manifests import read_manifests


class Order(BaseModel):
    order_id: str


PLACED = EventDefinition(
    event_name="order.placed",
    topic=EventTopic.BUSINESS_FACTS,
    description="An order was placed",
    payload_schema=Order,
)


def test_manifest_records_kind_subscriptions_and_definitions() -> None:
    worker = Worker(
        "order-processor",
        capabilities=["orders"],
        events_consumed=[PLACED],
        events_produced=["inventory.reserve", PLACED],
    )
    worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)(lambda e, c: None)
    worker.on_task("order.check")(lambda e, c: None)
    worker.on_result()(lambda e, c: None)

    manifest = worker.manifest()
    record = json.loads(manifest.model_dump_json())

    assert record["kind"] == "worker" and record["capabilities"] == ["orders"]
    assert [(s["topic"], s["event_type"], s["replies"]) for s in record["subscriptions"]] == [
        ("business-facts", "order.placed", False),
        ("action-requests", "order.check", False),
        ("action-results", "*", True),
    ]
    assert record["produced_event_names"] == ["inventory.reserve", "order.placed"]
    assert record["events_consumed"][0]["payload_schema"]["properties"]["order_id"]
    assert manifest.topics() == [
        EventTopic.ACTION_REQUESTS,
        EventTopic.ACTION_RESULTS,
        EventTopic.BUSINESS_FACTS,
    ]


def test_kinds() -> None:
    assert [k("k").kind for k in (Agent, Worker, Tool, Planner)] == [
        AgentKind.AGENT,
        AgentKind.WORKER,
        AgentKind.TOOL,
        AgentKind.PLANNER,
    ]


def test_base_agent_needs_a_topic_and_rejects_unknown_topics() -> None:
    agent = Agent("strict")
    with pytest.raises(TypeError):
        agent.on_event("a.b")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown topic 'orders'"):
        agent.on_event("a.b", topic="orders")


def test_planner_goals_default_to_action_requests() -> None:
    planner = Planner("planner")
    planner.on_goal("research.goal")(lambda e, c: None)
    [sub] = planner.manifest().subscriptions
    assert (sub.topic, sub.event_type) == (EventTopic.ACTION_REQUESTS, "research.goal")


def test_a_second_handler_for_the_same_subscription_is_an_error() -> None:
    agent = Agent("twice")
    agent.on_event("a.b", topic="business-facts")(lambda e, c: None)
    with pytest.raises(ValueError, match="already has a handler"):
        agent.on_event("a.b", topic="business-facts")(lambda e, c: None)


@pytest.mark.parametrize("pattern", ["a*", "*.b", "a.*.c", "a.b*"])
def test_bad_event_type_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ValueError, match="event_type"):
        Agent("p").on_event(pattern, topic="business-facts")


def test_tool_replies_default_to_its_declared_response_event() -> None:
    tool = Tool("calc", default_response_event="calc.answered")
    tool.on_invoke("calc.requested")(lambda e, c: {"x": 1})
    [spec] = tool.handlers
    assert spec.replies_with_result and spec.response_event == "calc.answered"


def test_soorma_manifest_prints_the_manifest_from_a_child_process(tmp_path: Path) -> None:
    folder = tmp_path / "greeter"
    folder.mkdir()
    (folder / "handler.py").write_text(
        textwrap.dedent("""
        from soorma import Worker
        from soorma_common import EventTopic

        worker = Worker("greeter", capabilities=["greeting"])

        @worker.on_event("user.registered", topic=EventTopic.BUSINESS_FACTS)
        def greet(event, context):
            context.bus.announce("user.greeted", {"user": event.data["user"]})

        handler = worker.lambda_handler
    """)
    )

    [manifest] = read_manifests([folder])

    assert manifest.name == "greeter" and manifest.capabilities == ["greeting"]
    assert [(s.topic, s.event_type) for s in manifest.subscriptions] == [
        (EventTopic.BUSINESS_FACTS, "user.registered")
    ]


def test_handlers_may_be_sync_or_async() -> None:
    agent = Agent("mixed")

    async def coroutine_handler(event: Any, context: Any) -> None:
        return None

    agent.on_event("a.b", topic="business-facts")(coroutine_handler)
    agent.on_event("c.d", topic="business-facts")(lambda e, c: None)
    assert len(agent.manifest().subscriptions) == 2
