"""`soorma.ai.event_toolkit.EventToolkit`: the design documents' form (async with, await,
mapping access) and the synchronous one, capability filtering, tools and their way back."""

from __future__ import annotations

import asyncio

from soorma.ai.event_toolkit import EventToolkit
from soorma.registry import RegistryClient
from tests.ai_world import DRAFT_TOOL, RESEARCH_TOOL, planner, register, workers


def test_the_documents_form_runs_as_written(soorma_tables) -> None:
    register(soorma_tables, [planner(None), *workers()])

    async def main() -> list[tuple[str, str]]:
        seen = []
        async with EventToolkit(soorma_tables["registry"]) as toolkit:
            events = await toolkit.discover_actionable_events(topic="action-requests")
            for event in events:
                assert "metadata" in event
                seen.append((event["name"], event["metadata"].get("when_to_use", "N/A")))
        return seen

    assert asyncio.run(main()) == [
        ("draft.requested", "after research"),
        ("research.requested", "first, to gather facts"),
    ]


def test_synchronous_use_and_filters(soorma_tables) -> None:
    register(soorma_tables, [planner(None), *workers()])
    with EventToolkit(RegistryClient(soorma_tables["registry"], cache_seconds=0)) as toolkit:
        everything = toolkit.discover_actionable_events()
        assert everything.names == ["draft.requested", "research.requested"]
        assert everything[0].payload_schema is not None and everything[0].get("nothing") is None
        assert toolkit.discover_actionable_events(capabilities=["writing"]).names == [
            "draft.requested"
        ]
        assert toolkit.discover_actionable_events(pattern="research.*").names == [
            "research.requested"
        ]
        assert toolkit.discover_actionable_events(capabilities=["cooking"]) == []
        tools = toolkit.tool_specs(everything)
        assert [t.name for t in tools] == [DRAFT_TOOL, RESEARCH_TOOL]
        assert "When to use: after research" in tools[0].description
        assert toolkit.event_of_tool(RESEARCH_TOOL, everything).name == "research.requested"
        assert toolkit.event_of_tool("research-requestedx", everything) is None


def test_without_arguments_it_reads_the_configured_registry(soorma_tables) -> None:
    register(soorma_tables, [planner(None), *workers()])
    assert EventToolkit().discover_events(pattern="draft.*").names == ["draft.requested"]
