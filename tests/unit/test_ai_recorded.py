"""Recorded exchanges: record once, replay offline byte for byte; a request not recorded is a
permanent error naming its fingerprint and the file; fingerprints ignore dict ordering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from soorma import clients
from soorma.ai import (
    AssistantTurn,
    BedrockConverseProvider,
    ModelRequest,
    ModelUnavailableError,
    RecordedProvider,
    RecordingMissError,
    RecordingProvider,
    ScriptedProvider,
    ToolCall,
    ToolResult,
    ToolResultTurn,
    ToolSpec,
    UserTurn,
    request_fingerprint,
)
from soorma.ai.providers.converse_shapes import converse_response
from soorma_common.errors import PermanentError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "bedrock"
DRAFT = ToolSpec(
    name="draft__requested",
    description="Ask the drafter for a draft.",
    input_schema={"type": "object", "properties": {"topic": {"type": "string"}}},
)


def conversation() -> list[ModelRequest]:
    """Three requests of a plan: the goal, the goal with a drafted result, a non-ASCII follow-up."""
    goal = UserTurn(text="Write about tides")

    def ask(*turns: UserTurn | AssistantTurn) -> ModelRequest:
        return ModelRequest(system="Plan.", turns=turns, tools=(DRAFT,))

    return [
        ask(goal),
        ask(goal, AssistantTurn(text="Drafting."), UserTurn(text="Draft ready: tides are lunar.")),
        ask(UserTurn(text="Anything else? ñ ☂")),
    ]


SCRIPT: list[Any] = [("draft__requested", {"topic": "tides"}), "Publishing.", "No. ☂ done"]


def test_record_then_replay_is_byte_for_byte(tmp_path: Path) -> None:
    recorded_file, replayed_file = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    recorder = RecordingProvider(ScriptedProvider(SCRIPT, model_id="m"), recorded_file)
    originals = [recorder.converse(request) for request in conversation()]

    replay = RecordedProvider(recorded_file)
    rerecorder = RecordingProvider(replay, replayed_file)
    replayed = [rerecorder.converse(request) for request in conversation()]

    assert replay.exchanges == 3
    assert replayed == originals
    assert replayed_file.read_bytes() == recorded_file.read_bytes()
    lines = [json.loads(line) for line in recorded_file.read_text(encoding="utf-8").splitlines()]
    assert [line["fingerprint"] for line in lines] == [
        request_fingerprint(r) for r in conversation()
    ]
    assert lines[0]["request"]["toolConfig"]["tools"][0]["toolSpec"]["name"] == "draft__requested"
    assert lines[0]["response"]["stopReason"] == "tool_use"
    assert "☂" in recorded_file.read_text(encoding="utf-8")  # unescaped, as written


def test_a_request_not_recorded_is_a_permanent_error_naming_fingerprint_and_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "plan.jsonl"
    RecordingProvider(ScriptedProvider(SCRIPT), path).converse(conversation()[0])
    stranger = ModelRequest(turns=(UserTurn(text="not recorded"),))

    with pytest.raises(RecordingMissError) as caught:
        RecordedProvider(path).converse(stranger)

    assert isinstance(caught.value, PermanentError)
    assert caught.value.fingerprint == request_fingerprint(stranger)
    assert request_fingerprint(stranger) in str(caught.value) and str(path) in str(caught.value)


def test_one_request_recorded_twice_replays_in_order_then_repeats_the_last(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    request = conversation()[0]
    recorder = RecordingProvider(ScriptedProvider(["first", "second"]), path)
    recorder.converse(request)
    recorder.converse(request)

    replay = RecordedProvider(path)
    assert [replay.converse(request).text for _ in range(3)] == ["first", "second", "second"]


def test_failed_calls_are_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "fail.jsonl"
    throttled = ModelUnavailableError("throttled", model_id="m", code="ThrottlingException")
    recorder = RecordingProvider(ScriptedProvider([throttled, "ok"]), path)
    with pytest.raises(ModelUnavailableError):
        recorder.converse(conversation()[0])
    recorder.converse(conversation()[0])
    assert len(path.read_text().splitlines()) == 1


def test_an_edited_recording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edited.jsonl"
    RecordingProvider(ScriptedProvider(SCRIPT), path).converse(conversation()[0])
    path.write_text(path.read_text().replace("Write about tides", "Write about waves"))
    with pytest.raises(PermanentError, match="does not match the recorded request"):
        RecordedProvider(path)
    path.write_text("{not json\n")
    with pytest.raises(PermanentError, match=r"edited\.jsonl:1 is not a recorded exchange"):
        RecordedProvider(path)


@pytest.fixture
def stub() -> Iterator[Stubber]:
    clients.reset()
    with Stubber(clients.client("bedrock-runtime")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    clients.reset()


def test_a_bedrock_exchange_recorded_once_replays_offline(stub: Stubber, tmp_path: Path) -> None:
    golden = json.loads((GOLDEN / "converse_cache_usage.json").read_text())["payload"]
    stub.add_response("converse", golden)
    request = ModelRequest(
        system="Radio.",
        turns=(
            UserTurn(text="Top song on WKRP?"),
            AssistantTurn(text="Checking."),
            ToolResultTurn(
                results=(ToolResult(tool_use_id="t1", content="no data", is_error=True),)
            ),
        ),
        tools=(DRAFT,),
    )
    path = tmp_path / "bedrock.jsonl"
    live = RecordingProvider(BedrockConverseProvider("model-x"), path).converse(request)

    replayed = RecordedProvider(path).converse(request)

    assert replayed == live and replayed.model_id == "model-x"
    assert json.loads(path.read_text())["response"]["usage"]["cacheReadInputTokens"] == 1812
    # What the recording holds is a Converse response the service model accepts, and it reads
    # back through the Bedrock provider as the same answer.
    stub.add_response("converse", converse_response(replayed))
    assert BedrockConverseProvider("model-x").converse(request) == replayed


# Fingerprints ---------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=5)


def reordered(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse insertion order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def request_with(
    tool_input: dict[str, Any], schema_extra: dict[str, Any], text: str
) -> ModelRequest:
    schema = {"type": "object", "properties": {}, **schema_extra}
    return ModelRequest(
        system="Plan.",
        turns=(
            UserTurn(text=text),
            AssistantTurn(
                tool_calls=(ToolCall(tool_use_id="t1", name="draft__requested", input=tool_input),)
            ),
            ToolResultTurn(results=(ToolResult(tool_use_id="t1", content=tool_input),)),
        ),
        tools=(ToolSpec(name="draft__requested", description="Draft.", input_schema=schema),),
    )


@given(tool_input=json_objects, schema_extra=json_objects, text=st.text(min_size=1, max_size=20))
def test_fingerprint_ignores_dict_ordering(
    tool_input: dict[str, Any], schema_extra: dict[str, Any], text: str
) -> None:
    original = request_with(tool_input, schema_extra, text)
    shuffled = request_with(reordered(tool_input), reordered(schema_extra), text)
    assert request_fingerprint(original) == request_fingerprint(shuffled)


@given(
    tool_input=json_objects,
    schema_extra=json_objects,
    texts=st.lists(st.text(min_size=1, max_size=20), min_size=2, max_size=2, unique=True),
    other_input=json_objects,
)
def test_fingerprint_differs_for_different_requests(
    tool_input: dict[str, Any],
    schema_extra: dict[str, Any],
    texts: list[str],
    other_input: dict[str, Any],
) -> None:
    first = request_with(tool_input, schema_extra, texts[0])
    assert request_fingerprint(first) != request_fingerprint(
        request_with(tool_input, schema_extra, texts[1])
    )
    if other_input != tool_input:
        assert request_fingerprint(first) != request_fingerprint(
            request_with(other_input, schema_extra, texts[0])
        )
    assert (
        request_fingerprint(first).startswith("sha256:") and len(request_fingerprint(first)) == 71
    )
