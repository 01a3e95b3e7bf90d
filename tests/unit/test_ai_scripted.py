"""The scripted model: deterministic answers, deterministic token counts, a clear end of script;
and the request types' own rules."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from soorma.ai import (
    AssistantTurn,
    InferenceOptions,
    LanguageModel,
    ModelRequest,
    ModelResponse,
    ModelUnavailableError,
    ScriptedProvider,
    ScriptExhaustedError,
    TokenUsage,
    ToolCall,
    ToolSpec,
    UserTurn,
    estimate_tokens,
)
from soorma_common.errors import PermanentError

RESEARCH = ToolSpec(
    name="research__requested",
    description="Ask the researcher to research a topic.",
    input_schema={"type": "object", "properties": {"topic": {"type": "string"}}},
)


def ask(text: str) -> ModelRequest:
    return ModelRequest(system="Plan the work.", turns=(UserTurn(text=text),), tools=(RESEARCH,))


def test_a_list_script_answers_in_order_then_says_it_ran_out() -> None:
    model = ScriptedProvider(
        [("research__requested", {"topic": "tides"}), "Done: the tides are lunar."],
        model_id="scripted-planner",
    )
    assert isinstance(model, LanguageModel)

    first = model.converse(ask("Research tides"))
    second = model.converse(ask("Summarise"))

    assert first.tool_calls == (
        ToolCall(
            tool_use_id="tooluse_scripted_0_0", name="research__requested", input={"topic": "tides"}
        ),
    )
    assert (first.stop_reason, first.model_id, first.text) == ("tool_use", "scripted-planner", None)
    assert (second.stop_reason, second.text, second.tool_calls) == (
        "end_turn",
        "Done: the tides are lunar.",
        (),
    )
    assert [r.turns[0].text for r in model.requests] == ["Research tides", "Summarise"]  # type: ignore[union-attr]
    with pytest.raises(ScriptExhaustedError) as caught:
        model.converse(ask("Again?"))
    assert isinstance(caught.value, PermanentError)
    assert "'scripted-planner'" in str(caught.value) and "call 3" in str(caught.value)
    assert "holds 2" in str(caught.value)


def test_tokens_are_counted_from_characters() -> None:
    request = ask("Research tides")
    answer = ScriptedProvider(["twelve chars"]).converse(request)
    assert answer.usage == TokenUsage(
        input_tokens=math.ceil(len(request.canonical_json()) / 4), output_tokens=3
    )
    longer = ScriptedProvider(["twelve chars"]).converse(ask("Research tides " * 40))
    assert longer.usage.input_tokens > answer.usage.input_tokens
    assert (estimate_tokens(""), estimate_tokens("abcd"), estimate_tokens("abcde")) == (0, 1, 2)


def test_the_same_script_gives_the_same_answers() -> None:
    script = [[("research__requested", {"topic": "a"}), ("research__requested", {"topic": "b"})]]
    runs = [ScriptedProvider(script).converse(ask("Research a and b")) for _ in range(2)]
    assert runs[0] == runs[1]
    assert [c.tool_use_id for c in runs[0].tool_calls] == [
        "tooluse_scripted_0_0",
        "tooluse_scripted_0_1",
    ]


def test_a_function_script_answers_from_the_request() -> None:
    def planner(request: ModelRequest) -> str | tuple[str, dict[str, object]]:
        last = request.turns[-1]
        if isinstance(last, UserTurn) and "tides" in last.text:
            return ("research__requested", {"topic": "tides"})
        return "Nothing to do."

    model = ScriptedProvider(planner)  # type: ignore[arg-type]
    assert model.converse(ask("tides, please")).tool_calls[0].input == {"topic": "tides"}
    assert model.converse(ask("hello")).text == "Nothing to do."
    assert len(model.requests) == 2


def test_exceptions_and_full_responses_are_passed_through() -> None:
    scripted = ModelResponse(
        text="truncated",
        stop_reason="max_tokens",
        usage=TokenUsage(input_tokens=9, output_tokens=1),
        model_id="other",
    )
    throttled = ModelUnavailableError("throttled", model_id="scripted", code="ThrottlingException")
    model = ScriptedProvider([throttled, scripted])
    with pytest.raises(ModelUnavailableError):
        model.converse(ask("x"))
    assert model.converse(ask("x")) is scripted


def test_a_step_of_the_wrong_kind_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a script step"):
        ScriptedProvider([42]).converse(ask("x"))  # type: ignore[list-item]


def test_requests_check_their_own_consistency() -> None:
    with pytest.raises(ValidationError, match="starts with a user turn"):
        ModelRequest(turns=(AssistantTurn(text="hi"),))
    with pytest.raises(ValidationError, match="not among the tools"):
        ModelRequest(
            turns=(UserTurn(text="x"),),
            tools=(RESEARCH,),
            options=InferenceOptions(tool_choice="tool", forced_tool="missing"),
        )
    with pytest.raises(ValidationError, match="forced_tool exactly when"):
        InferenceOptions(tool_choice="any", forced_tool="research__requested")
    with pytest.raises(ValidationError, match="unique"):
        ModelRequest(turns=(UserTurn(text="x"),), tools=(RESEARCH, RESEARCH))
    with pytest.raises(ValidationError, match="text or at least one tool call"):
        AssistantTurn()


def test_registry_tool_specs_become_tool_specs() -> None:
    from soorma.registry import EventRecord
    from soorma.registry.llm import tool_name, tool_specs

    event = EventRecord(
        name="research.requested",
        topic="action-requests",
        description="Research a topic",
        payload_schema={"type": "object", "properties": {"topic": {"type": "string"}}},
    )
    [spec] = [ToolSpec.from_converse(s) for s in tool_specs([event], "bedrock")]
    assert spec.name == tool_name("research.requested") == "research-requested"
    assert spec.input_schema == event.payload_schema
    assert spec.description.startswith("Publish research.requested on action-requests.")
