"""The control tools of a choreography plan (`complete`, `wait_for_input`, `fail`), their
checks, and vague-result detection."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soorma.ai.decisions import DecisionRejected
from soorma.ai.providers import ToolCall, ToolSpec

COMPLETE = "complete"
WAIT_FOR_INPUT = "wait_for_input"
FAIL = "fail"

#: Phrases that describe content instead of being it (the Design Patterns document's list).
DEFAULT_VAGUE_INDICATORS: tuple[str, ...] = (
    "draft is ready",
    "already prepared",
    "content is complete",
)

#: The largest `result`, `prompt` or `reason` a control call may carry (its compact JSON, UTF-8).
#: A plan's item keeps a result four times (the conversation, the result, and the stored
#: `plan.completed` notice and reply, re-sent as they were on a retry) within DynamoDB's 400 KB,
#: beside the rest of the conversation; 64 KB leaves that room (and fits the reply's 256 KB).
MAX_CONTROL_ARGUMENT_BYTES = 64 * 1024

#: What replaces a vague result: a working-memory key (a reply event type) or a function of the
#: plan's working memory (reply data by event type) returning the content, or None.
VagueFallback = str | Callable[[Mapping[str, Any]], Any]

CONTROL_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name=COMPLETE,
        description=(
            "End the plan with its final result: the content itself (the answer, the text), "
            "never a description of where it is."
        ),
        input_schema={
            "type": "object",
            "properties": {"result": {"description": "the final result"}},
            "required": ["result"],
        },
    ),
    ToolSpec(
        name=WAIT_FOR_INPUT,
        description="Pause the plan and ask the user a question; the answer resumes it.",
        input_schema={
            "type": "object",
            "properties": {"prompt": {"type": "string", "description": "the question"}},
            "required": ["prompt"],
        },
    ),
    ToolSpec(
        name=FAIL,
        description="End the plan as failed, when the goal cannot be reached.",
        input_schema={
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "why"}},
            "required": ["reason"],
        },
    ),
)
CONTROL_NAMES = frozenset(tool.name for tool in CONTROL_TOOLS)


@dataclass(frozen=True)
class ControlChoice:
    """A checked control decision: the tool, its argument, and whether a vague result was
    replaced by working-memory content."""

    tool: str
    argument: Any
    call: ToolCall
    replaced_vague: bool = False


def check_control_call(
    call: ToolCall,
    *,
    indicators: Sequence[str],
    fallback: VagueFallback | None,
    memory: Mapping[str, Any],
) -> ControlChoice:
    """A control call with its argument checked, or `DecisionRejected`. A vague `complete`
    result is replaced by the fallback content when there is some, else rejected (sent back)."""
    field = {COMPLETE: "result", WAIT_FOR_INPUT: "prompt", FAIL: "reason"}[call.name]
    value = call.input.get(field)
    if value is None or value == "":
        raise DecisionRejected(f"{call.name} needs {field!r} (got {json.dumps(call.input)[:200]})")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_CONTROL_ARGUMENT_BYTES:
        raise DecisionRejected(
            f"{call.name}: {field!r} takes {size} bytes, over the "
            f"{MAX_CONTROL_ARGUMENT_BYTES}-byte limit of what a plan stores; give a shorter "
            "one (a summary, or a reference to where the full content is)"
        )
    if call.name != COMPLETE:
        if not isinstance(value, str):
            raise DecisionRejected(f"{call.name}: {field!r} must be a string")
        return ControlChoice(call.name, value, call)
    found = vague_indicator(value, indicators)
    if found is None:
        return ControlChoice(call.name, value, call)
    content = fallback_content(fallback, memory)
    if content is None:
        raise DecisionRejected(
            f"the result is vague (it says {found!r}): it describes content instead of "
            "containing it; call complete with the content itself"
        )
    return ControlChoice(call.name, content, call, replaced_vague=True)


def vague_indicator(result: Any, indicators: Sequence[str]) -> str | None:
    """The first indicator found in `result` (as text, case-insensitive), or None."""
    text = (result if isinstance(result, str) else json.dumps(result, default=str)).lower()
    return next((i for i in indicators if i.lower() in text), None)


def fallback_content(fallback: VagueFallback | None, memory: Mapping[str, Any]) -> Any:
    """The working-memory content that replaces a vague result, or None."""
    if fallback is None:
        return None
    if callable(fallback):
        return fallback(memory)
    return memory.get(fallback)
