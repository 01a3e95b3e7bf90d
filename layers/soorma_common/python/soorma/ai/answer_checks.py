"""What makes a model's answer unusable before its meaning is judged.

Three kinds, checked by `deliberate` on every answer:

- **final**: the provider stopped the answer for good (a guardrail or a content filter blocked
  it, or the conversation no longer fits the model's context window). Asking again gives the
  same, so the decision fails at once, naming the stop reason;
- **unkeepable**: the answer holds what cannot be stored with the plan or sent back to the model
  (a tool call whose name or input could not be read, text that is not valid Unicode, an input
  nested deeper than DynamoDB stores). It is rejected and repaired, and the model is told what
  was wrong without the answer being echoed back;
- **cut off**: the answer ended mid-way (`max_tokens`) or garbled (`malformed_tool_use`,
  `malformed_model_output`): rejected and repaired like a wrong answer, never acted on.
"""

from __future__ import annotations

from typing import Any

from soorma.ai.providers import ModelResponse
from soorma_common.json_values import first_non_utf8, nests_deeper_than

#: Stop reasons after which the answer is not repaired: asking again gives the same.
FINAL_STOP_REASONS = frozenset(
    {"guardrail_intervened", "content_filtered", "model_context_window_exceeded"}
)
#: Stop reasons of an answer cut off or garbled: rejected and repaired, never acted on.
CUT_OFF_STOP_REASONS = frozenset({"max_tokens", "malformed_tool_use", "malformed_model_output"})
#: How deep a tool call's input may nest (objects and arrays; `{"a": 1}` is 1). DynamoDB stores
#: at most 32 levels of nested attributes, and a plan keeps a call's input four levels down its
#: item (turns, a turn, its tool calls, the call); 24 leaves room for the stored effects.
MAX_TOOL_INPUT_DEPTH = 24


def final_problem(response: ModelResponse) -> str | None:
    """Why `response` ends its decision at once (a blocked answer), or None."""
    if response.stop_reason not in FINAL_STOP_REASONS:
        return None
    if response.stop_reason == "model_context_window_exceeded":
        return (
            "the conversation no longer fits the model's context window (stop reason "
            "model_context_window_exceeded); start a new plan with a shorter goal"
        )
    return (
        f"the model's answer was blocked (stop reason {response.stop_reason}); it is not "
        "asked again"
    )


def unkeepable_problem(response: ModelResponse) -> str | None:
    """Why `response` cannot be kept or sent back (see the module), or None."""
    if response.malformed is not None:
        return f"a tool call could not be read: {response.malformed}; call one tool, by its name"
    if response.text is not None and first_non_utf8(response.text) is not None:
        return _INVALID_UNICODE
    for call in response.tool_calls:
        problem = _input_problem(call.input)
        if problem is not None:
            return f"the input of {call.name!r} {problem}"
    return None


def cut_off_problem(response: ModelResponse) -> str | None:
    """Why `response` was cut off or garbled (its stop reason), or None."""
    if response.stop_reason not in CUT_OFF_STOP_REASONS:
        return None
    if response.stop_reason == "max_tokens":
        return (
            "the answer was cut off at the output token limit (stop reason max_tokens), so "
            "nothing of it was used; answer more briefly"
        )
    return f"the answer was garbled (stop reason {response.stop_reason}); call one tool again"


_INVALID_UNICODE = (
    "the answer holds text that is not valid Unicode (a lone surrogate); answer in plain text"
)
_TOO_DEEP = (
    f"nests more than {MAX_TOOL_INPUT_DEPTH} levels of objects and arrays (the most a plan can "
    "store: DynamoDB keeps 32 levels); send it flatter"
)


def _input_problem(value: Any) -> str | None:
    """What is wrong with a tool input (too deep, invalid Unicode), or None."""
    if nests_deeper_than(value, MAX_TOOL_INPUT_DEPTH):
        return _TOO_DEEP
    if first_non_utf8(value) is not None:
        return "holds text that is not valid Unicode (a lone surrogate)"
    return None
