"""A small research world for the choreography tests: registered events, two workers that
answer them, and a way to build a `ChoreographyPlanner` over them with any model."""

from __future__ import annotations

from typing import Any

from soorma import Worker
from soorma.ai.choreography import ChoreographyPlanner
from soorma.registry import sync_registry
from soorma.registry.client import reset_shared_clients
from soorma_common import EventDefinition, EventEnvelope, EventTopic

RESEARCH = EventDefinition(
    event_name="research.requested",
    topic=EventTopic.ACTION_REQUESTS,
    description="Research a topic and report findings.",
    payload_schema={
        "type": "object",
        "properties": {"topic": {"type": "string"}},
        "required": ["topic"],
        "additionalProperties": False,
    },
    metadata={"when_to_use": "first, to gather facts", "response_event": "research.completed"},
)
DRAFT = EventDefinition(
    event_name="draft.requested",
    topic=EventTopic.ACTION_REQUESTS,
    description="Write a draft from notes.",
    payload_schema={
        "type": "object",
        "properties": {"notes": {"type": "string"}},
        "required": ["notes"],
    },
    metadata={"when_to_use": "after research", "response_event": "draft.completed"},
)
GOAL = "research.goal"
ANSWER = "research.answered"
DRAFT_TEXT = "Tides rise and fall twice a day because the Moon pulls the oceans."

RESEARCH_TOOL = "research-requested"
DRAFT_TOOL = "draft-requested"


def workers() -> list[Worker]:
    """A researcher and a drafter (each declares the event it consumes, with its schema)."""
    researcher = Worker(name="researcher", capabilities=["research"], events_consumed=[RESEARCH])

    @researcher.on_task("research.requested")
    def research(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"findings": f"facts about {event.data['topic']}"}

    drafter = Worker(name="drafter", capabilities=["writing"], events_consumed=[DRAFT])

    @drafter.on_task("draft.requested")
    def draft(event: EventEnvelope, context: Any) -> dict[str, Any]:
        return {"draft_text": DRAFT_TEXT}

    return [researcher, drafter]


def planner(model: Any, **options: Any) -> ChoreographyPlanner:
    """A planner over the research world, started by `research.goal`."""
    options.setdefault("max_actions", 5)
    options.setdefault("token_budget", 100_000)
    return ChoreographyPlanner(
        "research-planner",
        model=model,
        instructions="Research first, then draft, then complete with the draft text.",
        goals=[GOAL],
        **options,
    )


def register(tables: dict[str, str], agents: list[Any]) -> None:
    """Sync the agents' manifests into the registry table (as a deploy does)."""
    reset_shared_clients()
    sync_registry(tables["registry"], [agent.manifest() for agent in agents])


def send_goal(bus: Any, text: str = "Why are there tides?", **attributes: Any) -> EventEnvelope:
    """Put a goal on the bus, asking for the answer as `research.answered` to `asker`."""
    sent: EventEnvelope = bus.send(
        GOAL,
        {"question": text},
        topic=EventTopic.ACTION_REQUESTS,
        response_event=ANSWER,
        reply_to="asker",
        tenant_id="acme",
        user_id="ada",
        **attributes,
    )
    return sent


def published(bus: Any, event_type: str) -> list[EventEnvelope]:
    """The events of one type the bus carried, in order."""
    return [e for e in bus.published if e.type == event_type]


def run_plan(
    soorma_bus: Any, tables: dict[str, str], model: Any, *agents: Any, **options: Any
) -> Any:
    """The planner over `model` with the research workers (or `agents`), one goal, until idle."""
    everyone = [planner(model, **options), *(agents or workers())]
    register(tables, everyone)
    bus = soorma_bus(*everyone)
    send_goal(bus)
    bus.run_until_idle()
    return bus


def plan_state(bus: Any) -> Any:
    """The choreography state of the one plan the bus started (tenant acme)."""
    from soorma.ai.plan_store import ChoreographyStore
    from soorma.memory import MemoryTable

    [started] = published(bus, "plan.started")
    return ChoreographyStore(MemoryTable.from_settings(), "acme").load(started.data["plan_id"])
