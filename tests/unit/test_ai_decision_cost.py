"""What one choreography decision costs the platform, model excluded (DynamoDB writes,
PutEvents), and how the prompt grows with the registry: filtering keeps it bounded."""

from __future__ import annotations

from typing import Any

from soorma import clients
from soorma.ai import ModelRequest, ScriptedProvider, UserTurn, estimate_tokens
from soorma.ai.control_tools import CONTROL_TOOLS
from soorma.ai.event_toolkit import EventToolkit
from soorma.registry import RegistryClient
from soorma.registry.entries import AgentRecord, Catalog, EventRecord
from soorma_common.manifest import AgentKind
from soorma_common.topics import EventTopic
from tests.ai_world import (
    DRAFT_TEXT,
    DRAFT_TOOL,
    RESEARCH_TOOL,
    planner,
    register,
    send_goal,
    workers,
)

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def count_memory_writes() -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in WRITES:
            calls.append((model.name, params.get("TableName", "")))

    clients.client("dynamodb").meta.events.register("provide-client-params.dynamodb", hook)
    return calls


def test_platform_cost_per_decision(soorma_bus, soorma_tables) -> None:
    script = [
        (RESEARCH_TOOL, {"topic": "tides"}),
        (DRAFT_TOOL, {"notes": "n"}),
        ("complete", {"result": DRAFT_TEXT}),
    ]
    agents = [planner(ScriptedProvider(script)), *workers()]
    register(soorma_tables, agents)
    bus = soorma_bus(*agents)
    writes = count_memory_writes()
    send_goal(bus)
    bus.run_until_idle()

    memory = [op for op, table in writes if table == soorma_tables["memory"]]
    # goal: plan record + choreography item + 1 commit; each reply: 1 commit; the end: the
    # plan record's status. No read-modify-write: every decision is one conditional UpdateItem.
    # Once per plan, the plan record leaves the open-work index (the choreography item records
    # the steps: soorma.ai.plan_store, docs/deadlines.md "Stalled workflows").
    assert memory.count("UpdateItem") == 3 + 1 + 1 and memory.count("PutItem") == 2
    planner_puts = [
        call
        for call in bus.put_calls
        if any(e["Source"] == "soorma.research-planner" for e in call)
    ]
    assert len(planner_puts) == 3  # one PutEvents per decision (its events are batched)


def catalog_of(events: int, per_capability: int = 10) -> Catalog:
    records = {
        f"domain{n}.work{n}": EventRecord(
            name=f"domain{n}.work{n}",
            topic=EventTopic.ACTION_REQUESTS,
            description=f"Do work number {n} for the domain {n}.",
            payload_schema={
                "type": "object",
                "properties": {"subject": {"type": "string"}, "depth": {"type": "integer"}},
                "required": ["subject"],
            },
            metadata={"when_to_use": f"when the goal needs work {n}"},
        )
        for n in range(events)
    }
    agents = {
        f"agent{n}": AgentRecord(
            name=f"agent{n}",
            kind=AgentKind.WORKER,
            capabilities=[f"cap{n // per_capability}"],
            consumed=[f"domain{n}.work{n}"],
        )
        for n in range(events)
    }
    return Catalog(events=records, agents=agents)


class FixedRegistry(RegistryClient):
    def __init__(self, catalog: Catalog) -> None:
        self._fixed = catalog

    def catalog(self) -> Catalog:
        return self._fixed


def prompt_tokens(catalog: Catalog, **filters: Any) -> int:
    toolkit = EventToolkit(FixedRegistry(catalog))
    events = toolkit.discover_actionable_events(**filters)
    request = ModelRequest(
        system="You are a planner.",
        turns=(UserTurn(text="Why are there tides?"),),
        tools=(*toolkit.tool_specs(events), *CONTROL_TOOLS),
    )
    return estimate_tokens(request.canonical_json())


def test_prompt_size_grows_with_the_registry_unless_filtered() -> None:
    sizes = {n: prompt_tokens(catalog_of(n)) for n in (10, 100, 1000)}
    filtered = {n: prompt_tokens(catalog_of(n), capabilities=["cap0"]) for n in (10, 100, 1000)}
    print("\nprompt tokens per decision (all events):", sizes)
    print("prompt tokens per decision (capability filter):", filtered)
    assert sizes[10] < sizes[100] < sizes[1000]
    assert sizes[1000] > 9 * sizes[100] / 2  # linear in the number of events
    assert filtered[10] == filtered[100] == filtered[1000]  # bounded by the filter
