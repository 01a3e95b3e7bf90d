"""Discovery on moto: RegistryClient, EventToolkit, and both from a handler's context."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import BaseModel, Field

from soorma import Agent, Planner, Worker, clients
from soorma.config import settings
from soorma.registry import EventToolkit, RegistryClient, UnknownEventError, sync_registry
from soorma.registry.client import reset_shared_clients
from soorma_common import EventDefinition, EventEnvelope, EventTopic
from soorma_common.errors import SchemaValidationError
from soorma_common.manifest import AgentManifest
from soorma_common.naming import table_name
from soorma_dev.harness import MotoHarness
from soorma_dev.provision import create_table

TABLE = table_name("test", "registry")


class Tier1(BaseModel):
    ticket_id: str = Field(description="Ticket to route")


class Tier2(BaseModel):
    ticket_id: str = Field(description="Ticket to route")
    technical_area: str = Field(description="Technical domain")


class Routed(BaseModel):
    accepted: bool


TIER1 = EventDefinition(
    event_name="ticket.route.tier1",
    topic=EventTopic.ACTION_REQUESTS,
    description="Route to Tier 1 support",
    payload_schema=Tier1,
    response_schema=Routed,
    metadata={"when_to_use": "billing questions"},
)
TIER2 = EventDefinition(
    event_name="ticket.route.tier2",
    topic=EventTopic.ACTION_REQUESTS,
    description="Route to Tier 2 technical support",
    payload_schema=Tier2,
)
ESCALATE = EventDefinition(
    event_name="ticket.escalate",
    topic=EventTopic.ACTION_REQUESTS,
    description="Escalate to a manager (no agent handles it yet)",
)
CREATED = EventDefinition(
    event_name="ticket.created",
    topic=EventTopic.BUSINESS_FACTS,
    description="A ticket was opened",
    payload_schema={
        "type": "object",
        "required": ["ticket_id"],
        "properties": {"ticket_id": {"type": "string"}},
    },
)


def agents() -> list[Agent]:
    router = Planner(
        "ticket-router", events_consumed=[CREATED], events_produced=[TIER1, TIER2, ESCALATE]
    )
    router.on_event("ticket.created", topic=EventTopic.BUSINESS_FACTS)(lambda e, c: None)
    tier1 = Worker("tier1-support", events_consumed=[TIER1])
    tier1.on_event("ticket.route.tier1")(lambda e, c: None)
    tier2 = Worker("tier2-support")
    tier2.on_event("ticket.route.*")(lambda e, c: None)  # a prefix subscription
    return [router, tier1, tier2]


def manifests() -> list[AgentManifest]:
    return [a.manifest() for a in agents()]


@pytest.fixture
def toolkit() -> Iterator[EventToolkit]:
    with mock_aws():
        create_table(boto3.client("dynamodb"), TABLE, "registry")
        sync_registry(TABLE, manifests())
        yield EventToolkit(RegistryClient(TABLE, cache_seconds=0))


def test_discover_by_topic_and_pattern(toolkit: EventToolkit) -> None:
    names = [e.name for e in toolkit.discover_events(topic="action-requests")]
    assert names == ["ticket.escalate", "ticket.route.tier1", "ticket.route.tier2"]
    assert [e.name for e in toolkit.discover_events(pattern="ticket.route.*")] == [
        "ticket.route.tier1",
        "ticket.route.tier2",
    ]
    assert [
        e.name
        for e in toolkit.discover_events(topic=EventTopic.BUSINESS_FACTS, pattern="*.created")
    ] == ["ticket.created"]
    assert toolkit.discover_events(topic="plan-events") == []


def test_actionable_events_exclude_events_no_agent_consumes(toolkit: EventToolkit) -> None:
    actionable = [e.name for e in toolkit.discover_actionable_events()]
    assert actionable == ["ticket.route.tier1", "ticket.route.tier2"]
    assert "ticket.escalate" in [e.name for e in toolkit.discover_events()]


def test_consumers_and_producers(toolkit: EventToolkit) -> None:
    registry = toolkit.registry
    assert registry.consumers_of("ticket.route.tier1") == ["tier1-support", "tier2-support"]
    assert registry.consumers_of("ticket.route.tier2") == ["tier2-support"]
    assert registry.producers_of("ticket.route.tier2") == ["ticket-router"]
    assert [e.name for e in registry.events_by_topic("business-facts")] == ["ticket.created"]
    agent = registry.get_agent("ticket-router")
    assert agent is not None and agent.kind.value == "planner"


def test_event_info_payloads_and_responses(toolkit: EventToolkit) -> None:
    info = toolkit.get_event_info("ticket.route.tier1")
    assert info is not None
    assert info.metadata == {"when_to_use": "billing questions"}
    assert info.payload_schema is not None and info.payload_schema["required"] == ["ticket_id"]
    assert toolkit.get_event_info("nope") is None

    assert toolkit.create_payload(
        "ticket.route.tier2", {"ticket_id": "T-1", "technical_area": "db"}
    ) == {"ticket_id": "T-1", "technical_area": "db"}
    with pytest.raises(SchemaValidationError, match="field 'technical_area' = missing"):
        toolkit.create_payload("ticket.route.tier2", {"ticket_id": "T-1"})
    with pytest.raises(UnknownEventError, match=r"'ticket\.route\.tier9' is not in the registry"):
        toolkit.create_payload("ticket.route.tier9", {})

    assert toolkit.validate_response("ticket.route.tier1", {"accepted": True}) == {"accepted": True}
    with pytest.raises(SchemaValidationError, match="field 'accepted' = 'maybe'"):
        toolkit.validate_response("ticket.route.tier1", {"accepted": "maybe"})


def test_run_time_registration_is_checked_for_compatibility(toolkit: EventToolkit) -> None:
    registry = toolkit.registry
    registry.register_event(
        EventDefinition(
            event_name="ticket.route.tier3",
            topic="action-requests",
            description="Vendor support",
            payload_schema={"type": "object", "properties": {"ticket_id": {"type": "string"}}},
        )
    )
    record = registry.get_event("ticket.route.tier3")
    assert record is not None and record.origin.value == "runtime"

    from soorma.registry import IncompatibleSchemaError

    with pytest.raises(IncompatibleSchemaError, match=r"type of field 'ticket_id' changed"):
        registry.register_event(
            EventDefinition(
                event_name="ticket.route.tier3",
                topic="action-requests",
                payload_schema={"type": "object", "properties": {"ticket_id": {"type": "integer"}}},
            )
        )


def test_a_handler_discovers_through_its_context() -> None:
    seen: list[Any] = []
    planner = Agent("dispatcher")

    @planner.on_event("work.arrived", topic=EventTopic.BUSINESS_FACTS)
    def arrived(event: EventEnvelope, context: Any) -> None:
        events = context.toolkit.discover_actionable_events()
        seen.append([e.name for e in events])
        seen.append(context.registry.consumers_of("ticket.route.tier2"))
        seen.append(context.toolkit.format_for_llm(events, "bedrock")[0]["toolSpec"]["name"])

    saved = dict(os.environ)  # MotoHarness exports the platform's SOORMA_* variables
    with mock_aws():
        reset_shared_clients()
        try:
            harness = MotoHarness([planner], stage="test")
            sync_registry(harness.platform.tables["registry"], manifests())
            harness.send("work.arrived", {}, topic=EventTopic.BUSINESS_FACTS)
            harness.run_until_idle()
        finally:
            os.environ.clear()
            os.environ.update(saved)
            reset_shared_clients()
            settings.cache_clear()
            clients.reset()

    assert seen == [
        ["ticket.route.tier1", "ticket.route.tier2"],
        ["tier2-support"],
        "ticket-route-tier1",
    ]


def test_payload_checks_compile_each_schema_once(
    toolkit: EventToolkit, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastjsonschema

    compiled: list[object] = []
    real_compile = fastjsonschema.compile

    def counting_compile(schema: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(schema)
        return real_compile(schema, *args, **kwargs)

    monkeypatch.setattr(fastjsonschema, "compile", counting_compile)
    for n in range(5):
        payload = {"ticket_id": f"T-{n}", "technical_area": "db"}
        assert toolkit.create_payload("ticket.route.tier2", payload) == payload
        assert toolkit.validate_response("ticket.route.tier1", {"accepted": True})
    with pytest.raises(SchemaValidationError):
        toolkit.create_payload("ticket.route.tier2", {"ticket_id": "T-9"})
    assert len(compiled) <= 2  # at most once per (event, schema), however many calls
