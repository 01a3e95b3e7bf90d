"""The advisor's scripted model: deterministic answers that follow the goal's `case`.

- `normal`: research, draft, validate, complete with the draft's text;
- `hallucinated`: first calls an event that is not registered (the planner sends it back);
- `invalid`: first sends a research payload its schema refuses (sent back too);
- `vague`: completes with "The draft is ready." (replaced by the draft in working memory);
- `runaway`: researches forever (the persisted `max_actions` cap stops it);
- `budget`: reads a long document first: its first answer costs more tokens than the budget.
"""

from __future__ import annotations

from typing import Any

from soorma.ai import ModelRequest, ModelResponse, TokenUsage, ToolCall

DRAFT = "Tides follow the Moon: its pull raises two bulges of water that the Earth turns under."


def answer(request: ModelRequest) -> tuple[str, dict[str, Any]] | ModelResponse:
    """The next tool call for this conversation."""
    goal = request.turns[0].text  # type: ignore[union-attr]
    results = [r for t in request.turns if t.kind == "tool_results" for r in t.results]
    answered = [r for r in results if not r.is_error]
    refused = [r for r in results if r.is_error]
    if '"budget"' in goal:
        return ModelResponse(
            tool_calls=(
                ToolCall(tool_use_id="t1", name="research-requested", input={"topic": "x"}),
            ),
            stop_reason="tool_use",
            usage=TokenUsage(input_tokens=20_000, output_tokens=40),
            model_id="scripted",
        )
    if '"runaway"' in goal:
        return "research-requested", {"topic": "tides, once more"}
    if '"hallucinated"' in goal and not refused:
        return "web-search-requested", {"query": "tides"}
    if '"invalid"' in goal and not refused:
        return "research-requested", {"subject": "tides"}
    steps = [
        ("research-requested", {"topic": "tides"}),
        ("draft-requested", {"notes": "the Moon's pull; two bulges; the Earth turns"}),
        ("validation-requested", {"draft": DRAFT}),
    ]
    if len(answered) < len(steps):
        return steps[len(answered)]
    if '"vague"' in goal:
        return "complete", {"result": "The draft is ready."}
    return "complete", {"result": DRAFT}
