"""A choreography planner's configuration (`Rails`): its limits, prompts, filters and waits."""

from __future__ import annotations

from dataclasses import dataclass

from soorma.ai.control_tools import VagueFallback

#: What a choreography planner's model is told first (the planner's `instructions` follow).
SYSTEM = (
    "You are a planner. Reach the user's goal by publishing events, one per step: each event "
    "tool asks another agent for work and its reply comes back as the tool's result. Call "
    "exactly one tool per step. When the goal is reached, call complete with the final content "
    "itself; if you need the user, call wait_for_input; if the goal cannot be reached, call fail."
)


@dataclass(frozen=True)
class Rails:
    """A choreography planner's configuration: limits, prompts, filters, vague results, and how
    long a `wait_for_input` waits (`input_timeout`, seconds; None: until answered)."""

    max_actions: int
    token_budget: int
    instructions: str
    max_repairs: int
    max_tokens: int
    vague_indicators: tuple[str, ...]
    vague_fallback: VagueFallback | None
    capabilities: tuple[str, ...] | None
    pattern: str | None
    input_timeout: float | None = None

    @property
    def system_prompt(self) -> str:
        """`SYSTEM`, then the planner's `instructions` (if any)."""
        return "\n\n".join(part for part in (SYSTEM, self.instructions) if part)
