"""A choreography plan's `wait_for_input` with `input_timeout` (issue 15): nobody answering
resumes the plan at the deadline with the tool's timeout error, once; an answer in time resumes
it and makes the deadline harmless. Through the in-memory bus (the real runtime, deadlines fired
as Scheduler would) and moto's DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from soorma.ai import ScriptedProvider
from soorma.ai.plan_store import ChoreographyStore
from soorma.memory import MemoryTable
from soorma_common import EventTopic
from tests.ai_world import ANSWER, RESEARCH_TOOL, planner, published, register, send_goal, workers

TIMEOUT = {"success": False, "error": "timeout"}
ASK = ("wait_for_input", {"prompt": "Which ocean?"})


def started(soorma_bus: Any, soorma_tables: dict[str, str], model: Any, **options: Any) -> Any:
    agents = [planner(model, **options), *workers()]
    register(soorma_tables, agents)
    bus = soorma_bus(*agents)
    send_goal(bus)
    bus.run_until_idle()
    return bus


def status_of(bus: Any, plan_id: str) -> str:
    state = ChoreographyStore(MemoryTable.from_settings(), "acme").load(plan_id)
    assert state is not None
    return state.status


def test_nobody_answering_resumes_the_plan_at_the_deadline_once(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider([ASK, ("fail", {"reason": "nobody said which ocean"})])
    bus = started(soorma_bus, soorma_tables, model, input_timeout=60)

    [waiting] = published(bus, "plan.waiting_for_input")
    assert waiting.data["to"] == "research-planner" and waiting.data["request_id"]
    [asked] = published(bus, "plan.input_requested")
    assert asked.id == waiting.data["request_id"] and asked.response_event == "plan.input_provided"
    assert bus.fire_deadlines(datetime.now(UTC) + timedelta(seconds=30)) == 0  # not due yet
    assert status_of(bus, waiting.data["plan_id"]) == "waiting"

    assert bus.fire_deadlines(datetime.now(UTC) + timedelta(seconds=61)) == 1
    bus.run_until_idle()

    [result] = model.requests[1].turns[-1].results
    assert result.is_error and result.content["data"] == TIMEOUT
    assert status_of(bus, waiting.data["plan_id"]) == "failed"
    assert bus.fire_deadlines(datetime.now(UTC) + timedelta(seconds=120)) == 0  # fired once
    bus.run_until_idle()
    assert len(model.requests) == 2 and len(published(bus, ANSWER)) == 1


def test_an_answer_in_time_resumes_the_plan_and_the_deadline_is_harmless(
    soorma_bus, soorma_tables
) -> None:
    script = [ASK, (RESEARCH_TOOL, {"topic": "Atlantic tides"}), ("complete", {"result": "ok"})]
    model = ScriptedProvider(script)
    bus = started(soorma_bus, soorma_tables, model, input_timeout=60)
    [waiting] = published(bus, "plan.waiting_for_input")

    bus.send(
        "plan.input_provided",
        {"plan_id": waiting.data["plan_id"], "input": "the Atlantic"},
        topic=EventTopic.NOTIFICATION_EVENTS,
        tenant_id="acme",
        user_id="ada",
        correlation_id=waiting.correlation_id,
    )
    bus.run_until_idle()
    assert model.requests[1].turns[-1].results[0].content == {"input": "the Atlantic"}
    assert published(bus, ANSWER)[0].data["result"] == "ok"

    assert bus.fire_deadlines(datetime.now(UTC) + timedelta(seconds=61)) == 1
    bus.run_until_idle()
    assert len(model.requests) == 3  # the timeout changed nothing
    assert len(published(bus, ANSWER)) == 1 and bus.dead_letters() == []


def test_the_reply_to_the_input_request_resumes_the_plan(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider([ASK, ("complete", {"result": "Pacific, then."})])
    bus = started(soorma_bus, soorma_tables, model, input_timeout=60)
    [waiting] = published(bus, "plan.waiting_for_input")

    bus.send(
        "plan.input_provided",
        {"input": "the Pacific"},
        topic=EventTopic.ACTION_RESULTS,
        tenant_id="acme",
        user_id="ada",
        correlation_id=waiting.correlation_id,
        causation_id=waiting.data["request_id"],
        reply_to="research-planner",
        plan_id=waiting.data["plan_id"],
    )
    bus.run_until_idle()

    [result] = model.requests[1].turns[-1].results
    assert not result.is_error and result.content["data"] == {"input": "the Pacific"}
    assert published(bus, ANSWER)[0].data["result"] == "Pacific, then."
    assert bus.fire_deadlines(datetime.now(UTC) + timedelta(seconds=61)) == 1
    bus.run_until_idle()
    assert len(model.requests) == 2  # the reply decided the request: the timeout is late


def test_waiting_with_a_deadline_counts_as_an_action(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider([ASK, ASK, ASK])
    bus = started(soorma_bus, soorma_tables, model, input_timeout=60, max_actions=2)
    for _ in range(2):
        bus.fire_deadlines(datetime.now(UTC) + timedelta(days=1))
        bus.run_until_idle()

    assert len(published(bus, "plan.input_requested")) == 2
    [tripped] = published(bus, "plan.circuit_breaker_tripped")
    assert tripped.data["limit"] == "max_actions"
