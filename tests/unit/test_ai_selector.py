"""`EventSelector`: one checked decision — a registered event with a valid payload — repaired
when the model errs, a permanent error naming the last problem when it keeps erring."""

from __future__ import annotations

from typing import Any

from soorma import Worker
from soorma.ai import EventSelector, ScriptedProvider
from soorma_common import EventEnvelope, EventTopic
from tests.ai_world import DRAFT_TOOL, RESEARCH_TOOL, planner, published, register, workers


def router(model: Any, chosen: list[Any]) -> Worker:
    agent = Worker(name="question-router")

    @agent.on_event("question.asked", topic=EventTopic.BUSINESS_FACTS)
    def route(event: EventEnvelope, context: Any) -> None:
        selector = EventSelector(context, model=model, instructions="Route questions.")
        selection = selector.select(event.data)
        chosen.append(selection)
        selector.publish(selection)

    return agent


def run(soorma_bus, soorma_tables, model: Any) -> tuple[Any, list[Any]]:
    chosen: list[Any] = []
    agents = [router(model, chosen), *workers()]
    register(soorma_tables, [*agents, planner(None)])
    bus = soorma_bus(*agents)
    bus.send("question.asked", {"text": "tides?"}, topic="business-facts", tenant_id="acme")
    bus.run_until_idle()
    return bus, chosen


def test_the_selected_event_is_published_with_its_checked_payload(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider(
        [("nope-requested", {}), (RESEARCH_TOOL, {"topic": 3}), (RESEARCH_TOOL, {"topic": "tides"})]
    )
    bus, [selection] = run(soorma_bus, soorma_tables, model)

    assert (selection.event_name, selection.payload) == ("research.requested", {"topic": "tides"})
    assert [e.data for e in published(bus, "research.requested")] == [{"topic": "tides"}]
    assert len(selection.decision.rejections) == 2
    assert model.requests[0].options.tool_choice == "any"
    assert {t.name for t in model.requests[0].tools} == {RESEARCH_TOOL, DRAFT_TOOL}
    [bill] = published(bus, "llm.tokens_used")
    assert bill.data["model_calls"] == 3 and bill.data["tenant_id"] == "acme"


def test_a_model_that_keeps_erring_is_a_permanent_error_naming_the_last_problem(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider(["I would research.", ("nope-requested", {}), (DRAFT_TOOL, {})])
    bus, chosen = run(soorma_bus, soorma_tables, model)

    assert chosen == [] and published(bus, "research.requested") == []
    [dead] = bus.dead_letters()
    assert "3 attempts" in dead.reason and "'draft.requested' is invalid" in dead.reason
    assert len(model.requests) == 3  # permanent: dead-lettered at once, never asked again
