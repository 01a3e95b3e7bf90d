"""One decision of a language model, checked before anything is acted on, with bounded repairs.

`deliberate(model, request, judge, max_repairs)` asks the model, passes its answer to `judge`
(which returns what the answer means or raises `DecisionRejected` saying what is wrong), and
when the answer is rejected feeds the problem back to the model as the result of its tool call
(`is_error`), at most `max_repairs` times. `check_event_call` is the judge's usual core: the
tool must name a registered event among those offered, and its input must be a payload valid
against that event's schema (`EventToolkit.create_payload`, defaults filled in).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from soorma.ai.answer_checks import cut_off_problem, final_problem, unkeepable_problem
from soorma.ai.providers import (
    AssistantTurn,
    LanguageModel,
    ModelRequest,
    ModelResponse,
    TokenUsage,
    ToolCall,
    ToolResult,
    ToolResultTurn,
    Turn,
    UserTurn,
)
from soorma.registry.entries import EventRecord
from soorma.registry.llm import event_name_of_tool_name, tool_name
from soorma.registry.toolkit import EventToolkit
from soorma_common.errors import PermanentError

T = TypeVar("T")

#: Repairs allowed by default after a rejected answer (so at most 3 calls per decision).
DEFAULT_MAX_REPAIRS = 2


class DecisionRejected(Exception):
    """What is wrong with a model's answer, in words the model can act on."""


class DecisionFailedError(PermanentError):
    """The model gave no acceptable answer within its repairs; `problem` is the last one."""

    def __init__(self, message: str, *, problem: str, attempts: int, usage: TokenUsage) -> None:
        super().__init__(message)
        self.problem = problem
        self.attempts = attempts
        self.usage = usage


@dataclass(frozen=True)
class EventChoice:
    """A checked choice: a registered event and a payload valid against its schema."""

    event: EventRecord
    payload: Any
    call: ToolCall

    @property
    def event_name(self) -> str:
        """The chosen event's name."""
        return self.event.name


class ModelCalls:
    """What a decision's calls of the model (`responses`, in order) add up to."""

    responses: list[ModelResponse]

    @property
    def usage(self) -> TokenUsage:
        """Tokens of the calls, summed."""
        return total_usage(self.responses)

    @property
    def model_id(self) -> str:
        """The model that answered last."""
        return self.responses[-1].model_id


@dataclass
class Deliberation(ModelCalls, Generic[T]):
    """An accepted answer: what it means (`value`), every answer the model gave on the way
    (`responses`, the last one accepted), the turns they added to the conversation (rejected
    answers and their errors, then the accepted answer), the rejections, and the tokens of all
    calls together."""

    value: T
    responses: list[ModelResponse]
    turns: list[Turn]
    rejections: list[str] = field(default_factory=list)

    @property
    def call(self) -> ToolCall | None:
        """The accepted tool call (None when the answer was text)."""
        calls = self.responses[-1].tool_calls
        return calls[0] if calls else None


def total_usage(responses: Iterable[ModelResponse]) -> TokenUsage:
    """The tokens of several calls, summed."""
    listed = list(responses)
    return TokenUsage(
        input_tokens=sum(r.usage.input_tokens for r in listed),
        output_tokens=sum(r.usage.output_tokens for r in listed),
    )


def deliberate(
    model: LanguageModel,
    request: ModelRequest,
    judge: Callable[[ModelResponse], T],
    *,
    max_repairs: int = DEFAULT_MAX_REPAIRS,
) -> Deliberation[T]:
    """Ask `model`; repair rejected answers at most `max_repairs` times (see the module).

    Raises `DecisionFailedError` naming the last problem when no answer is accepted, and at
    once for an answer the provider blocked (`soorma.ai.answer_checks`); errors of the model
    itself (`ModelUnavailableError`, ...) propagate. Answers cut off, malformed, nested too
    deep or not valid Unicode are rejected and repaired before the judge sees them.
    """
    responses: list[ModelResponse] = []
    turns: list[Turn] = []
    rejections: list[str] = []
    while True:
        response = model.converse(request.model_copy(update={"turns": (*request.turns, *turns)}))
        responses.append(response)
        final = final_problem(response)
        if final is not None:
            raise DecisionFailedError(
                f"the model gave no usable decision: {final}",
                problem=final,
                attempts=len(responses),
                usage=total_usage(responses),
            )
        unkeepable = unkeepable_problem(response)
        try:
            value = _judged(response, judge, unkeepable)
        except DecisionRejected as rejected:
            problem = str(rejected)
            rejections.append(problem)
            if unkeepable is None:
                turns.extend(_feedback(response, problem))
            else:  # not echoed: the model is only told what was wrong
                turns.extend(_unkept_feedback(problem))
            if len(rejections) > max_repairs:
                raise DecisionFailedError(
                    f"the model gave no acceptable decision in {len(responses)} attempts "
                    f"({max_repairs} repairs); last problem: {problem}",
                    problem=problem,
                    attempts=len(responses),
                    usage=total_usage(responses),
                ) from None
            continue
        turns.append(assistant_turn(response))
        return Deliberation(value, responses, turns, rejections)


def _judged(
    response: ModelResponse, judge: Callable[[ModelResponse], T], unkeepable: str | None
) -> T:
    """What `judge` makes of `response`, unless it cannot be kept or was cut off."""
    if unkeepable is not None:
        raise DecisionRejected(unkeepable)
    cut_off = cut_off_problem(response)
    if cut_off is not None:
        raise DecisionRejected(cut_off)
    return judge(response)


def _unkept_feedback(problem: str) -> list[Turn]:
    """What the model is shown about an answer that cannot be sent back to it."""
    return [
        AssistantTurn(text="(an answer that could not be used)"),
        UserTurn(text=f"Rejected, nothing was published: {problem}. Correct it and call one tool."),
    ]


def assistant_turn(response: ModelResponse) -> AssistantTurn:
    """The model's answer as a turn of the conversation."""
    return AssistantTurn(text=response.text or None, tool_calls=response.tool_calls)


def _feedback(response: ModelResponse, problem: str) -> list[Turn]:
    """The rejected answer and the error the model is shown about it."""
    message = f"Rejected, nothing was published: {problem}. Correct it and call one tool."
    if not response.tool_calls:
        return [
            AssistantTurn(text=response.text or "(no answer)"),
            UserTurn(text=message),
        ]
    return [
        assistant_turn(response),
        ToolResultTurn(
            results=tuple(
                ToolResult(tool_use_id=call.tool_use_id, content=message, is_error=True)
                for call in response.tool_calls
            )
        ),
    ]


def one_call(response: ModelResponse) -> ToolCall:
    """The single tool call of an answer, or `DecisionRejected`."""
    if not response.tool_calls:
        raise DecisionRejected(
            f"the answer was text ({_short(response.text)}), not a tool call; "
            "decide by calling exactly one tool"
        )
    if len(response.tool_calls) > 1:
        names = ", ".join(call.name for call in response.tool_calls)
        raise DecisionRejected(f"{len(response.tool_calls)} tools were called ({names}); call one")
    return response.tool_calls[0]


def check_event_call(
    toolkit: EventToolkit, events: Sequence[EventRecord], call: ToolCall
) -> EventChoice:
    """The event a tool call names among `events`, with its payload checked, or
    `DecisionRejected` (an event that is not offered or not registered, an invalid payload)."""
    offered = {tool_name(event.name): event for event in events}
    event = offered.get(call.name)
    if event is None:
        try:
            named = repr(event_name_of_tool_name(call.name))
        except PermanentError:
            named = "no event"
        available = ", ".join(sorted(offered)) or "none"
        raise DecisionRejected(
            f"tool {call.name!r} ({named}) is not a registered event that can be published "
            f"here; the available tools are: {available}"
        )
    try:
        payload = toolkit.create_payload(event.name, call.input)
    except PermanentError as exc:
        raise DecisionRejected(f"the payload of {event.name!r} is invalid: {exc}") from None
    return EventChoice(event, payload, call)


def _short(text: str | None, limit: int = 80) -> str:
    if not text:
        return "empty"
    flat = json.dumps(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + '…"'
