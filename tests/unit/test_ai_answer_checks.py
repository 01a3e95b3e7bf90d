"""Answers a model may give that cannot be acted on: read, rejected or failed before the judge.

Converse shapes as the Amazon Bedrock API reference gives them (`output.message.content` with
`text` and `toolUse` blocks, `stopReason`, `usage`)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soorma.ai import DecisionFailedError, ScriptedProvider
from soorma.ai.answer_checks import (
    MAX_TOOL_INPUT_DEPTH,
    cut_off_problem,
    final_problem,
    unkeepable_problem,
)
from soorma.ai.decisions import deliberate, one_call
from soorma.ai.providers import ModelRequest, ModelResponse, TokenUsage, ToolCall, UserTurn
from soorma.ai.providers.converse_shapes import model_response

USAGE = TokenUsage(input_tokens=10, output_tokens=5)


def converse(content: list[dict[str, Any]], stop: str = "tool_use") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
    }


def tool_use(name: Any, tool_input: Any, tool_use_id: str = "tooluse_1") -> dict[str, Any]:
    return {"toolUse": {"toolUseId": tool_use_id, "name": name, "input": tool_input}}


def answer(tool_input: Any = None, text: str | None = None, stop: str = "tool_use") -> Any:
    calls = () if tool_input is None else (ToolCall(tool_use_id="t1", name="go", input=tool_input),)
    return ModelResponse(tool_calls=calls, text=text, stop_reason=stop, usage=USAGE, model_id="m")


def nested(depth: int) -> dict[str, Any]:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"n": value}
    return value


@given(st.text(max_size=80))
def test_any_tool_name_is_read_or_reported_malformed_never_raised(name: str) -> None:
    response = model_response(converse([tool_use(name, {"a": 1})]), model_id="m")

    if response.malformed is None:
        assert [call.name for call in response.tool_calls] == [name]
        assert 1 <= len(name) <= 64
    else:
        assert response.tool_calls == () and "tool call 1" in response.malformed
        assert unkeepable_problem(response) is not None


@pytest.mark.parametrize(
    ("block", "named"),
    [
        (tool_use("research-requested-" + "x" * 70, {}), "is not a tool name"),
        (tool_use("drop table; --", {}), "is not a tool name"),
        (tool_use(None, {}), "has no name"),
        (tool_use("go", '{"topic": "tides"'), "str, not a JSON object"),
        (tool_use("go", ["tides"]), "list, not a JSON object"),
        (tool_use("go", {}, tool_use_id="id with spaces"), "no valid toolUseId"),
    ],
)
def test_a_tool_call_that_cannot_be_read_drops_every_call_of_the_answer(
    block: dict[str, Any], named: str
) -> None:
    good = tool_use("go", {"a": 1}, "tooluse_2")
    response = model_response(converse([good, block]), model_id="m")

    assert response.tool_calls == ()
    assert response.malformed is not None and named in response.malformed
    assert "tool call 2" in response.malformed


def test_an_input_may_nest_up_to_the_limit_and_no_deeper() -> None:
    assert unkeepable_problem(answer(nested(MAX_TOOL_INPUT_DEPTH))) is None
    problem = unkeepable_problem(answer(nested(MAX_TOOL_INPUT_DEPTH + 1)))
    assert problem is not None and f"more than {MAX_TOOL_INPUT_DEPTH} levels" in problem
    assert "32" in problem  # names DynamoDB's own limit


def test_an_input_nested_a_hundred_thousand_deep_is_measured_without_recursion() -> None:
    value: Any = []
    for _ in range(100_000):
        value = [value]
    assert "levels" in (unkeepable_problem(answer({"deep": value})) or "")


@pytest.mark.parametrize(
    "response",
    [
        answer({"result": "tides \ud800 moon"}),
        answer({"bad \udfff key": 1}),
        answer({"list": ["ok", ["x\ud800"]]}),
        answer(text="tides \ud800"),
    ],
    ids=["value", "key", "nested", "text"],
)
def test_a_lone_surrogate_anywhere_is_unkeepable(response: ModelResponse) -> None:
    problem = unkeepable_problem(response)
    assert problem is not None and "lone surrogate" in problem
    problem.encode("utf-8")  # the problem itself is valid text (it is stored and sent)


def test_stop_reasons_sort_answers_into_final_cut_off_and_usable() -> None:
    for stop in ("guardrail_intervened", "content_filtered", "model_context_window_exceeded"):
        assert stop in (final_problem(answer(text="no", stop=stop)) or "")
        assert cut_off_problem(answer(text="no", stop=stop)) is None
    for stop in ("max_tokens", "malformed_tool_use", "malformed_model_output"):
        assert stop in (cut_off_problem(answer({"a": 1}, stop=stop)) or "")
        assert final_problem(answer({"a": 1}, stop=stop)) is None
    for stop in ("tool_use", "end_turn", "stop_sequence"):
        usable = answer({"a": 1}, stop=stop)
        assert (final_problem(usable), cut_off_problem(usable), unkeepable_problem(usable)) == (
            None,
            None,
            None,
        )


REQUEST = ModelRequest(system="decide", turns=(UserTurn(text="go"),))


def test_a_blocked_answer_fails_the_decision_after_one_call() -> None:
    model = ScriptedProvider(lambda request: answer(text="I cannot help", stop="content_filtered"))

    with pytest.raises(DecisionFailedError, match="content_filtered") as failed:
        deliberate(model, REQUEST, one_call, max_repairs=5)
    assert failed.value.attempts == 1 and len(model.requests) == 1
    assert failed.value.usage.total_tokens == USAGE.total_tokens


def test_a_cut_off_answer_is_repaired_and_its_call_never_accepted() -> None:
    model = ScriptedProvider([answer({"result": "Tides ri"}, stop="max_tokens"), answer({"a": 1})])

    decision = deliberate(model, REQUEST, one_call)

    assert decision.value.input == {"a": 1}
    assert len(decision.rejections) == 1 and "max_tokens" in decision.rejections[0]


def test_an_unkeepable_answer_is_not_echoed_back_to_the_model() -> None:
    deep = answer({"result": nested(3000)})
    model = ScriptedProvider([deep, answer({"a": 1})])

    deliberate(model, REQUEST, one_call)

    repair = model.requests[1].turns
    assert repair[0] == UserTurn(text="go")
    assert all(getattr(turn, "tool_calls", ()) == () for turn in repair)  # the call is not sent
    assert "levels" in repair[-1].text  # type: ignore[union-attr]
