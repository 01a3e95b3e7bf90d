"""The limits of model decisions: checked settings, the token budget between repairs, and what a
plan's circuit breaker reports when it trips.

- `check_limits` refuses, when an agent is built, a setting no decision could work with
  (`max_tokens=0`, `max_repairs=-1`, ...), naming the parameter.
- `BudgetedModel` wraps the `LanguageModel` one decision of a plan talks to: it asks for a
  repair only while the plan's tokens and the decision's so far are under the plan's
  `token_budget`, else it raises `TokenBudgetExhausted` (permanent), which the step turns into
  the circuit breaker's stop. The decision's first call is always made (the plan's commit
  enforces the budget on it), so a decision spends at most one call past the budget.
- `circuit_breaker` (and `refusal`, for a step DynamoDB refused) says what a tripped breaker
  reports.
"""

from __future__ import annotations

from typing import Any

from soorma.ai.decisions import ModelCalls
from soorma.ai.plan_store import ChoreographyState, Limit, LimitReached
from soorma.ai.providers import LanguageModel, ModelRequest, ModelResponse
from soorma_common.errors import PermanentError


def check_limits(
    *, at_least_one: dict[str, Any], at_least_zero: dict[str, Any] | None = None
) -> None:
    """`ValueError` naming the first setting that is not an integer of at least 1 (resp. 0)."""
    for minimum, values in ((1, at_least_one), (0, at_least_zero or {})):
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name} must be an integer of at least {minimum}, not {value!r}")


class TokenBudgetExhausted(PermanentError, ModelCalls):
    """A decision's repairs stopped: the plan's tokens and the decision's reached the budget."""

    def __init__(self, *, spent: int, budget: int, responses: list[ModelResponse]) -> None:
        super().__init__(
            f"token_budget of {budget} reached ({spent} used) before the model gave an "
            f"acceptable decision in {len(responses)} calls; no repair was asked for"
        )
        self.spent = spent
        self.budget = budget
        self.responses = responses


class BudgetedModel(ModelCalls):
    """`model` for one decision of a plan that had spent `spent` of `budget` tokens before it:
    each call after the first is made only while the spent tokens are under the budget."""

    def __init__(self, model: LanguageModel, *, spent: int, budget: int) -> None:
        self.model = model
        self.spent = spent
        self.budget = budget
        self.responses: list[ModelResponse] = []

    def converse(self, request: ModelRequest) -> ModelResponse:
        """The model's answer; `TokenBudgetExhausted` instead of a call past the budget."""
        spent = self.spent + self.usage.total_tokens
        if self.responses and spent >= self.budget:
            raise TokenBudgetExhausted(
                spent=spent, budget=self.budget, responses=list(self.responses)
            )
        response = self.model.converse(request)
        self.responses.append(response)
        return response


def refusal(state: ChoreographyState, reached: LimitReached, tokens: int) -> dict[str, Any]:
    """The notice of a step of `tokens` tokens that DynamoDB refused; it reports what the plan
    used: its actions (the refused action was not taken), or its tokens with the step's (spent,
    counted and billed)."""
    current = reached.current
    used = current.actions if reached.limit == "max_actions" else current.tokens + tokens
    return circuit_breaker(state, reached.limit, used)


def circuit_breaker(state: ChoreographyState, limit: Limit, used: int) -> dict[str, Any]:
    """The `plan.circuit_breaker_tripped` notice's data (without the agent), with the reason."""
    value = state.max_actions if limit == "max_actions" else state.token_budget
    reason = (
        f"circuit breaker: {limit} of {value} reached ({used} used); "
        "the plan was completed with what it had"
    )
    return {
        "plan_id": state.plan_id,
        "limit": limit,
        "value": value,
        "used": used,
        "reason": reason,
    }
