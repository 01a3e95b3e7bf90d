"""The scripted provider: deterministic answers from a list or a function, for tests and the
local cloud. Token counts are estimated from characters (4 per token), so budgets can be tested.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeGuard

from soorma.ai.providers.conversation import ModelRequest, ToolCall
from soorma.ai.providers.decision import ModelResponse, TokenUsage
from soorma.ai.providers.errors import ScriptExhaustedError

#: One scripted answer: text (`end_turn`), a tool call or several (`tool_use`), a
#: `(tool name, input)` pair (the tool-use id is made up), a full `ModelResponse`, or an
#: exception to raise (e.g. `ModelUnavailableError`, to test redelivery).
ScriptStep: TypeAlias = (
    str
    | ToolCall
    | tuple[str, dict[str, Any]]
    | Sequence[ToolCall | tuple[str, dict[str, Any]]]
    | ModelResponse
    | BaseException
)

#: A script: the answers in order, or a function of the request.
Script: TypeAlias = Sequence[ScriptStep] | Callable[[ModelRequest], ScriptStep]

CHARACTERS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """A deterministic token estimate: one token per 4 characters, rounded up."""
    return math.ceil(len(text) / CHARACTERS_PER_TOKEN)


class ScriptedProvider:
    """A `LanguageModel` that answers from a script; `requests` holds what it was asked."""

    def __init__(self, script: Script, *, model_id: str = "scripted") -> None:
        self.model_id = model_id
        self.requests: list[ModelRequest] = []
        self._script = script
        self._lock = threading.Lock()

    def converse(self, request: ModelRequest) -> ModelResponse:
        """The next scripted answer (or the script function's answer) to `request`."""
        with self._lock:
            call = len(self.requests)
            self.requests.append(request)
        step = self._step(request, call)
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, ModelResponse):
            return step
        return self._response(step, request, call)

    def _step(self, request: ModelRequest, call: int) -> ScriptStep:
        if callable(self._script):
            return self._script(request)
        if call >= len(self._script):
            raise ScriptExhaustedError(
                f"scripted model {self.model_id!r} has no answer for call {call + 1}: its script "
                f"holds {len(self._script)}. Add answers to the script, or find out why the "
                "caller asked again (a loop, or a redelivery that should have replayed a stored "
                "decision)"
            )
        return self._script[call]

    def _response(self, step: ScriptStep, request: ModelRequest, call: int) -> ModelResponse:
        input_tokens = estimate_tokens(request.canonical_json())
        if isinstance(step, str):
            return ModelResponse(
                text=step,
                stop_reason="end_turn",
                usage=TokenUsage(input_tokens=input_tokens, output_tokens=estimate_tokens(step)),
                model_id=self.model_id,
            )
        calls = _tool_calls(step, call)
        spoken = json.dumps(
            [c.model_dump(mode="json") for c in calls], sort_keys=True, separators=(",", ":")
        )
        return ModelResponse(
            tool_calls=calls,
            stop_reason="tool_use",
            usage=TokenUsage(input_tokens=input_tokens, output_tokens=estimate_tokens(spoken)),
            model_id=self.model_id,
        )


def _tool_calls(step: ScriptStep, call: int) -> tuple[ToolCall, ...]:
    items: Sequence[object]
    if isinstance(step, ToolCall) or _is_pair(step):
        items = [step]
    elif isinstance(step, Sequence) and step and not isinstance(step, str):
        items = step
    else:
        raise TypeError(
            f"not a script step: {step!r}; use text, a ToolCall, a (name, input) pair, a list of "
            "those, a ModelResponse or an exception"
        )
    calls = []
    for index, item in enumerate(items):
        if isinstance(item, ToolCall):
            calls.append(item)
        elif _is_pair(item):
            name, tool_input = item
            calls.append(
                ToolCall(
                    tool_use_id=f"tooluse_scripted_{call}_{index}", name=name, input=tool_input
                )
            )
        else:
            raise TypeError(f"not a scripted tool call: {item!r}")
    return tuple(calls)


def _is_pair(value: object) -> TypeGuard[tuple[str, dict[str, Any]]]:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], dict)
    )
