"""A research advisor: a `ChoreographyPlanner` whose language model picks each step among the
registered events (research, draft, validate) until it completes the goal.

On AWS it calls the Bedrock model below (its function may invoke that one only). In this
example the model is the script in `advisor_script.py`, chosen by the scenario's
`SOORMA_LLM_PROVIDER`; each goal's `case` makes it misbehave one way, and the rails catch it.
"""

from typing import Any

from soorma.ai import ChoreographyPlanner

DRAFT_EVENT = "draft.completed"


def drafted_text(memory: dict[str, Any]) -> Any:
    """What replaces a vague result: the last draft the drafter returned."""
    return (memory.get(DRAFT_EVENT) or {}).get("draft_text")


planner = ChoreographyPlanner(
    "advisor",
    model_id="us.anthropic.claude-sonnet-4-20250514-v1:0",
    instructions="Research the question, draft an answer, validate it, then complete with the "
    "draft's text.",
    goals=["advice.requested"],
    max_actions=4,
    token_budget=12_000,
    vague_fallback=drafted_text,
    event_capabilities=["research", "writing", "review"],
)

handler = planner.lambda_handler
