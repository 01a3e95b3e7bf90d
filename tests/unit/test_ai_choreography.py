"""`ChoreographyPlanner` through the in-memory bus (the real runtime) and moto's DynamoDB: a
normal plan, the hallucination guard, vague results, the persisted limits, exactly-once."""

from __future__ import annotations

import itertools
from typing import Any

from soorma.ai import ModelRequest, ScriptedProvider, estimate_tokens
from soorma_common import EventTopic
from tests.ai_world import (
    ANSWER,
    DRAFT_TEXT,
    DRAFT_TOOL,
    RESEARCH_TOOL,
    planner,
    published,
    register,
    send_goal,
    workers,
)
from tests.ai_world import plan_state as state_of
from tests.ai_world import run_plan as run

NORMAL = [
    (RESEARCH_TOOL, {"topic": "tides"}),
    (DRAFT_TOOL, {"notes": "facts about tides"}),
    ("complete", {"result": DRAFT_TEXT}),
]


def test_a_plan_runs_to_completion_and_answers_the_requester(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(NORMAL)
    bus = run(soorma_bus, soorma_tables, model)

    assert [e.type for e in bus.published if e.topic == EventTopic.ACTION_REQUESTS] == [
        "research.goal",
        "research.requested",
        "draft.requested",
    ]
    [answer] = published(bus, ANSWER)
    assert answer.data["result"] == DRAFT_TEXT and answer.data["status"] == "completed"
    assert answer.reply_to == "asker"
    lifecycle = [e.type for e in bus.published if e.topic == EventTopic.PLAN_EVENTS]
    assert lifecycle == ["plan.started", *["plan.decision"] * 3, "plan.completed"]
    billing = published(bus, "llm.tokens_used")
    assert len(billing) == 3 and all(b.data["tenant_id"] == "acme" for b in billing)
    assert sum(b.data["input_tokens"] for b in billing) == sum(
        estimate_tokens(r.canonical_json()) for r in model.requests
    )
    state = state_of(bus)
    assert (state.status, state.actions, state.pending) == ("completed", 2, {})
    assert state.tokens == sum(b.data["total_tokens"] for b in billing)
    # the model saw the registered events and the replies as tool results
    last: ModelRequest = model.requests[-1]
    assert {t.name for t in last.tools} == {
        RESEARCH_TOOL,
        DRAFT_TOOL,
        "complete",
        "fail",
        "wait_for_input",
    }
    assert last.turns[-1].kind == "tool_results"
    assert last.turns[-1].results[0].content["data"] == {"draft_text": DRAFT_TEXT}


def test_a_hallucinated_event_is_never_published_and_is_repaired(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider([("web-search-requested", {"q": "tides"}), *NORMAL])
    bus = run(soorma_bus, soorma_tables, model)

    assert published(bus, "web.search.requested") == []
    [answer] = published(bus, ANSWER)
    assert answer.data["result"] == DRAFT_TEXT
    repaired = model.requests[1].turns[-1]
    assert repaired.kind == "tool_results" and repaired.results[0].is_error
    assert "'web.search.requested'" in repaired.results[0].content
    assert RESEARCH_TOOL in repaired.results[0].content  # the model is told what exists
    [first] = published(bus, "plan.decision")[:1]
    assert first.data["repairs"] == 1


def test_an_invalid_payload_is_never_published_and_is_repaired(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider([(RESEARCH_TOOL, {"subject": "tides"}), *NORMAL])
    bus = run(soorma_bus, soorma_tables, model)

    assert [e.data for e in published(bus, "research.requested")] == [{"topic": "tides"}]
    feedback = model.requests[1].turns[-1].results[0]
    assert feedback.is_error and "invalid" in feedback.content and "topic" in feedback.content
    assert published(bus, ANSWER)[0].data["status"] == "completed"


def test_repairs_run_out_and_the_plan_fails_with_the_last_problem(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider([("nope-requested", {})] * 3)
    bus = run(soorma_bus, soorma_tables, model, max_repairs=2)

    assert [e.type for e in bus.published if e.topic == EventTopic.ACTION_REQUESTS] == [
        "research.goal"
    ]
    [failed] = published(bus, "plan.failed")
    assert "3 attempts" in failed.data["reason"] and "'nope.requested'" in failed.data["reason"]
    [answer] = published(bus, ANSWER)
    assert answer.data["success"] is False and "'nope.requested'" in answer.data["error"]
    assert len(model.requests) == 3
    assert state_of(bus).status == "failed"


def test_a_vague_result_is_replaced_by_working_memory_content(soorma_bus, soorma_tables) -> None:
    script = [*NORMAL[:2], ("complete", {"result": "The draft is ready for review."})]
    model = ScriptedProvider(script)
    bus = run(
        soorma_bus,
        soorma_tables,
        model,
        vague_fallback=lambda memory: memory["draft.completed"]["draft_text"],
    )

    [answer] = published(bus, ANSWER)
    assert answer.data["result"] == DRAFT_TEXT
    assert answer.data["reason"] == "vague result replaced"


def test_a_vague_result_without_fallback_is_sent_back(soorma_bus, soorma_tables) -> None:
    script = [*NORMAL[:2], ("complete", {"result": "Content is complete."}), NORMAL[2]]
    model = ScriptedProvider(script)
    bus = run(soorma_bus, soorma_tables, model)

    [answer] = published(bus, ANSWER)
    assert answer.data["result"] == DRAFT_TEXT
    feedback = model.requests[3].turns[-1].results[0]
    assert feedback.is_error and "vague" in feedback.content


def test_a_runaway_model_is_stopped_by_the_persisted_action_cap(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(lambda request: (RESEARCH_TOOL, {"topic": "tides again"}))
    bus = run(soorma_bus, soorma_tables, model, max_actions=3)

    assert len(published(bus, "research.requested")) == 3
    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert notice.topic == EventTopic.SYSTEM_EVENTS
    assert (notice.data["limit"], notice.data["value"]) == ("max_actions", 3)
    [answer] = published(bus, ANSWER)
    assert answer.data["status"] == "completed" and "max_actions of 3" in answer.data["reason"]
    assert answer.data["result"] == {"findings": "facts about tides again"}
    state = state_of(bus)
    assert (state.status, state.actions) == ("completed", 3)
    assert len(model.requests) == 4  # the fourth decision was refused by DynamoDB


def test_the_token_budget_ends_the_plan(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(lambda request: (RESEARCH_TOOL, {"topic": "tides"}))
    bus = run(soorma_bus, soorma_tables, model, max_actions=100, token_budget=2_000)

    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert notice.data["limit"] == "token_budget"
    state = state_of(bus)
    assert state.status == "completed" and "token_budget of 2000" in state.reason
    # every admitted step fitted in the budget; the refused one's tokens are still counted
    billed = [b.data["total_tokens"] for b in published(bus, "llm.tokens_used")]
    assert sum(billed[:-1]) <= 2_000 < sum(billed) == state.tokens
    assert state.actions == len(published(bus, "research.requested")) == len(billed) - 1


def test_a_duplicated_delivery_never_calls_the_model_again(soorma_bus, soorma_tables) -> None:
    counter = itertools.count()

    def fickle(request: ModelRequest) -> Any:  # a different answer on every call
        return (RESEARCH_TOOL, {"topic": f"tides-{next(counter)}"})

    model = ScriptedProvider(fickle)
    agents = [planner(model, max_actions=1), *workers()]
    register(soorma_tables, agents)
    bus = soorma_bus(*agents)
    goal = send_goal(bus)
    bus.put(goal)  # the same event delivered twice
    bus.run_until_idle()

    requests = published(bus, "research.requested")
    assert len({r.id for r in requests}) == 1  # re-flushed with the same id, never decided again
    assert {r.data["topic"] for r in requests} == {"tides-0"}
    assert len(model.requests) == 2  # the goal's decision, then the refused second action
    assert len(published(bus, ANSWER)) >= 1
    assert len({a.id for a in published(bus, ANSWER)}) == 1


def test_wait_for_input_pauses_and_the_answer_resumes(soorma_bus, soorma_tables) -> None:
    script = [
        ("wait_for_input", {"prompt": "Which ocean?"}),
        (RESEARCH_TOOL, {"topic": "tides in the Atlantic"}),
        ("complete", {"result": "Atlantic tides."}),
    ]
    model = ScriptedProvider(script)
    bus = run(soorma_bus, soorma_tables, model)

    [waiting] = published(bus, "plan.waiting_for_input")
    assert waiting.topic == EventTopic.NOTIFICATION_EVENTS
    assert waiting.data["prompt"] == "Which ocean?" and published(bus, ANSWER) == []
    assert state_of(bus).status == "waiting"
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
    assert published(bus, ANSWER)[0].data["result"] == "Atlantic tides."
