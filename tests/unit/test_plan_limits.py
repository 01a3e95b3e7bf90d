"""`soorma.ai.plan_limits`: settings refused when an agent is built, repairs bounded by the plan's
token budget, and what a tripped circuit breaker reports."""

from __future__ import annotations

from typing import Any

import pytest

from soorma.ai import (
    EventSelector,
    ModelRequest,
    ModelResponse,
    ScriptedProvider,
    TokenUsage,
    ToolCall,
    UserTurn,
)
from soorma.ai.plan_limits import BudgetedModel, TokenBudgetExhausted, check_limits
from soorma_common.errors import PermanentError
from tests.ai_world import ANSWER, planner, published
from tests.ai_world import plan_state as state_of
from tests.ai_world import run_plan as run


def costing(tokens: int, answer: Any) -> Any:
    """A script function: `answer` (text or a (tool, input) pair) at `tokens` tokens a call."""

    def respond(request: ModelRequest) -> ModelResponse:
        usage = TokenUsage(input_tokens=tokens - 1, output_tokens=1)
        if isinstance(answer, str):
            return ModelResponse(text=answer, stop_reason="end_turn", usage=usage, model_id="m")
        call = ToolCall(
            tool_use_id=f"tooluse_{len(request.turns)}", name=answer[0], input=answer[1]
        )
        return ModelResponse(tool_calls=(call,), stop_reason="tool_use", usage=usage, model_id="m")

    return respond


# ---- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_tokens", 0),
        ("max_tokens", -5),
        ("max_repairs", -1),
        ("max_actions", 0),
        ("token_budget", 0),
        ("max_tokens", 1.5),
        ("max_repairs", True),
        ("input_timeout", 0),
        ("input_timeout", -1.0),
    ],
)
def test_a_planner_refuses_a_limit_no_decision_could_work_with(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=option):
        planner(ScriptedProvider([]), **{option: value})


def test_a_planner_accepts_the_smallest_sensible_limits() -> None:
    built = planner(
        ScriptedProvider([]),
        max_tokens=1,
        max_repairs=0,
        max_actions=1,
        token_budget=1,
        input_timeout=0.5,
    )
    assert (built.max_actions, built.token_budget, built.rails.max_repairs) == (1, 1, 0)


@pytest.mark.parametrize(("option", "value"), [("max_tokens", 0), ("max_repairs", -1)])
def test_an_event_selector_refuses_a_limit_no_decision_could_work_with(
    option: str, value: Any
) -> None:
    with pytest.raises(ValueError, match=option):
        EventSelector(None, model=ScriptedProvider([]), **{option: value})  # type: ignore[arg-type]


def test_check_limits_names_the_setting_and_the_minimum() -> None:
    check_limits(at_least_one={"a": 1}, at_least_zero={"b": 0})
    with pytest.raises(ValueError, match=r"b must be an integer of at least 0, not -1"):
        check_limits(at_least_one={"a": 1}, at_least_zero={"b": -1})


# ---- the budget between repairs ------------------------------------------------------------------


def test_the_first_call_is_always_made_and_a_repair_only_under_the_budget() -> None:
    model = ScriptedProvider(costing(600, "thinking"))
    budgeted = BudgetedModel(model, spent=900, budget=1_000)
    request = ModelRequest(turns=(UserTurn(text="tides?"),))
    budgeted.converse(request)  # 900 + 600 is over, but the commit decides on the first call
    with pytest.raises(TokenBudgetExhausted) as raised:
        budgeted.converse(request)

    assert isinstance(raised.value, PermanentError)
    assert "token_budget of 1000 reached (1500 used)" in str(raised.value)
    assert (raised.value.spent, raised.value.usage.total_tokens) == (1_500, 600)
    assert len(model.requests) == 1


def test_a_repair_is_asked_for_while_the_budget_holds() -> None:
    budgeted = BudgetedModel(ScriptedProvider(costing(100, "thinking")), spent=0, budget=1_000)
    for _ in range(10):
        budgeted.converse(ModelRequest(turns=(UserTurn(text="tides?"),)))
    with pytest.raises(TokenBudgetExhausted):  # 10 x 100 reached the budget
        budgeted.converse(ModelRequest(turns=(UserTurn(text="tides?"),)))
    assert budgeted.usage.total_tokens == 1_000


def test_repairs_stop_at_the_budget_and_the_plan_ends_counting_and_billing_them(
    soorma_bus, soorma_tables
) -> None:
    model = ScriptedProvider(costing(700, "I should think more."))
    bus = run(soorma_bus, soorma_tables, model, token_budget=2_000, max_repairs=50)

    assert len(model.requests) == 3  # 700, 1400, 2100: no fourth call
    state = state_of(bus)
    assert (state.status, state.tokens) == ("completed", 2_100)
    assert state.reason.startswith("circuit breaker: token_budget of 2000 reached (2100 used)")
    assert len(state.turns) == 1  # the rejected answers are not kept
    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert (notice.data["limit"], notice.data["value"], notice.data["used"]) == (
        "token_budget",
        2_000,
        2_100,
    )
    [bill] = published(bus, "llm.tokens_used")
    assert (bill.data["total_tokens"], bill.data["model_calls"]) == (2_100, 3)
    [answer] = published(bus, ANSWER)
    assert answer.data["status"] == "completed" and "token_budget" in answer.data["reason"]


def test_a_final_answer_over_the_budget_is_still_accepted(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(costing(5_000, ("complete", {"result": "Tides follow the Moon."})))
    bus = run(soorma_bus, soorma_tables, model, token_budget=1_000)

    [answer] = published(bus, ANSWER)
    assert answer.data["result"] == "Tides follow the Moon."
    assert published(bus, "plan.circuit_breaker_tripped") == []


# ---- what a refused step reports -----------------------------------------------------------------


def test_a_refused_step_reports_the_tokens_it_spent(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(costing(400, ("research-requested", {"topic": "tides"})))
    bus = run(soorma_bus, soorma_tables, model, max_actions=100, token_budget=1_000)

    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert (notice.data["value"], notice.data["used"]) == (1_000, 1_200)
    assert state_of(bus).tokens == 1_200
    assert "token_budget of 1000 reached (1200 used)" in notice.data["reason"]


def test_a_wait_for_input_past_the_budget_ends_the_plan(soorma_bus, soorma_tables) -> None:
    model = ScriptedProvider(costing(800, ("wait_for_input", {"prompt": "Which ocean?"})))
    bus = run(soorma_bus, soorma_tables, model, token_budget=1_000)
    assert len(published(bus, "plan.waiting_for_input")) == 1  # 800 fits
    bus.send(
        "plan.input_provided",
        {"plan_id": state_of(bus).plan_id, "input": "the Atlantic"},
        topic="notification-events",
        tenant_id="acme",
        user_id="ada",
    )
    bus.run_until_idle()

    assert len(published(bus, "plan.waiting_for_input")) == 1  # the second wait was refused
    state = state_of(bus)
    assert (state.status, state.tokens, state.actions) == ("completed", 1_600, 0)
    [notice] = published(bus, "plan.circuit_breaker_tripped")
    assert (notice.data["limit"], notice.data["used"]) == ("token_budget", 1_600)
