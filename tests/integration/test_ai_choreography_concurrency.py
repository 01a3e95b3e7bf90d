"""The persisted limits of a `ChoreographyPlanner` hold across two "Lambda containers": two
processes, each importing the planner afresh, deliver results of the same plans at the same
time against moto's server. Every plan takes exactly `max_actions` actions, makes one decision
per state (the version compare-and-set), and trips its circuit breaker once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import boto3

from soorma import clients
from soorma.ai import ScriptedProvider
from soorma.ai.plan_store import ChoreographyStore
from soorma.bus import BusClient
from soorma.config import settings
from soorma.context import PlatformContext
from soorma.memory import MemoryTable
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.provision import create_table
from tests.ai_world import GOAL, RESEARCH_TOOL, planner, register, workers
from tests.integration.test_memory_concurrency import WAIT_FOR_GO, moto_server, run_workers

__all__ = ["moto_server"]  # the fixture, used by name

PLANS = 12
MAX_ACTIONS = 3
REGISTRY = "soorma-test-registry"

CONTAINER = (
    WAIT_FOR_GO
    + """
import asyncio
from soorma.ai import ScriptedProvider
from soorma.ai.plan_store import ChoreographyStore
from soorma.bus import BusClient
from soorma.context import PlatformContext
from soorma.memory import MemoryTable
from soorma_common import EventEnvelope, EventTopic
from tests.ai_world import RESEARCH_TOOL, planner

# A runaway model: it always asks for more research.
agent = planner(ScriptedProvider(lambda request: (RESEARCH_TOOL, {"topic": name})),
                max_actions=MAX_ACTIONS)
store = ChoreographyStore(MemoryTable.from_settings(), "acme")
plan_ids = json.loads(sys.argv[3])
published = []
delivered = 0
for round_ in range(50):
    active = False
    for plan_id in plan_ids:
        state = store.load(plan_id)
        if state.finished:
            continue
        active = True
        for request_id in list(state.pending):
            reply = EventEnvelope(
                id=f"reply-{name}-{plan_id}-{round_}", source="soorma.researcher",
                type="research.completed", topic=EventTopic.ACTION_RESULTS,
                data={"findings": name}, causation_id=request_id,
                reply_to="research-planner", tenant_id="acme", user_id="ada", plan_id=plan_id)
            bus = BusClient(agent.name, agent.source, handled=reply)
            handler = agent.find_handler(reply)
            asyncio.run(handler.function(reply, PlatformContext(agent, reply, bus)))
            delivered += 1
            published += [[plan_id, e.type] for e in bus.outbox]
    if not active:
        break
print(json.dumps({"published": published, "delivered": delivered}))
""".replace("MAX_ACTIONS)", f"{MAX_ACTIONS})")
)


def start_plans(count: int) -> tuple[list[str], list[list[str]]]:
    """Start `count` plans (each publishes its first action); their ids and what they published."""
    model = ScriptedProvider(lambda request: (RESEARCH_TOOL, {"topic": "start"}))
    agent = planner(model, max_actions=MAX_ACTIONS)
    plan_ids, published = [], []
    for n in range(count):
        goal = EventEnvelope(
            source="soorma.asker",
            type=GOAL,
            topic=EventTopic.ACTION_REQUESTS,
            data={"question": f"q{n}"},
            tenant_id="acme",
            user_id="ada",
            response_event="research.answered",
            reply_to="asker",
        )
        bus = BusClient(agent.name, agent.source, handled=goal)
        plan_id = asyncio.run(agent.start_plan(PlatformContext(agent, goal, bus), "research"))
        plan_ids.append(plan_id)
        published += [[plan_id, e.type] for e in bus.outbox]
    return plan_ids, published


def test_the_action_cap_holds_across_two_containers(
    moto_server: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SOORMA_REGISTRY_TABLE", REGISTRY)
    settings.cache_clear()
    clients.reset()
    create_table(boto3.client("dynamodb", endpoint_url=moto_server), REGISTRY, "registry")
    register({"registry": REGISTRY}, [planner(None), *workers()])
    plan_ids, started = start_plans(PLANS)

    outputs = run_workers(
        tmp_path,
        CONTAINER,
        [json.dumps(plan_ids), json.dumps(plan_ids)],
    )

    everything = started + [p for output in outputs for p in output["published"]]
    by_type = Counter((plan_id, event_type) for plan_id, event_type in everything)
    store = ChoreographyStore(MemoryTable.from_settings(), "acme")
    for plan_id in plan_ids:
        state = store.load(plan_id)
        assert state is not None
        assert (state.status, state.actions) == ("completed", MAX_ACTIONS)
        assert "max_actions of 3" in (state.reason or "")
        assert by_type[(plan_id, "research.requested")] == MAX_ACTIONS
        assert by_type[(plan_id, "plan.decision")] == MAX_ACTIONS  # one per state, never two
        assert by_type[(plan_id, "plan.circuit_breaker_tripped")] == 1
        assert by_type[(plan_id, "research.answered")] == 1
    assert all(output["delivered"] > 0 for output in outputs)  # both containers took part
