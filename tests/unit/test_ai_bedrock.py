"""The Bedrock Converse provider, through botocore's Stubber on a real `bedrock-runtime` client:
golden responses from the Bedrock documentation (tests/golden/bedrock), requests checked
against the service model (`expected_params`), errors mapped to transient or permanent."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from soorma import clients
from soorma.ai import (
    AssistantTurn,
    BedrockConverseProvider,
    InferenceOptions,
    LanguageModel,
    ModelNotConfiguredError,
    ModelRequest,
    ModelRequestError,
    ModelUnavailableError,
    TokenUsage,
    ToolCall,
    ToolResult,
    ToolResultTurn,
    ToolSpec,
    UserTurn,
)
from soorma_common.errors import PermanentError, TransientError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "bedrock"
MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"

# The tool of the Bedrock User Guide's tool-use walkthrough.
TOP_SONG = ToolSpec(
    name="top_song",
    description="Get the most popular song played on a radio station.",
    input_schema={
        "type": "object",
        "properties": {
            "sign": {
                "type": "string",
                "description": "The call sign for the radio station for which you want the most "
                "popular song. Example calls signs are WZPZ and WKRP.",
            }
        },
        "required": ["sign"],
    },
)
TOP_SONG_CONVERSE = {
    "toolSpec": {
        "name": TOP_SONG.name,
        "description": TOP_SONG.description,
        "inputSchema": {"json": TOP_SONG.input_schema},
    }
}
SYSTEM = "You are a radio assistant. Use the tools you are given."
QUESTION = UserTurn(text="What is the most popular song on WZPZ?")


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())["payload"]


@pytest.fixture
def stub() -> Iterator[Stubber]:
    """The process-wide `bedrock-runtime` client (the one the provider creates lazily), stubbed."""
    clients.reset()
    with Stubber(clients.client("bedrock-runtime")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
    clients.reset()


def test_tool_use_request_has_the_converse_shape_and_the_answer_is_a_tool_call(
    stub: Stubber,
) -> None:
    request = ModelRequest(
        system=SYSTEM,
        turns=(QUESTION,),
        tools=(TOP_SONG,),
        options=InferenceOptions(max_tokens=512, temperature=0.0),
    )
    stub.add_response(
        "converse",
        golden("converse_tool_use.json"),
        expected_params={
            "modelId": MODEL,
            "messages": [
                {"role": "user", "content": [{"text": "What is the most popular song on WZPZ?"}]}
            ],
            "system": [{"text": SYSTEM}],
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.0},
            "toolConfig": {"tools": [TOP_SONG_CONVERSE], "toolChoice": {"auto": {}}},
        },
    )
    provider = BedrockConverseProvider(MODEL)
    assert isinstance(provider, LanguageModel)

    answer = provider.converse(request)

    assert answer.is_tool_use and answer.text is None
    assert answer.tool_calls == (
        ToolCall(
            tool_use_id="tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", name="top_song", input={"sign": "WZPZ"}
        ),
    )
    assert answer.stop_reason == "tool_use"
    assert answer.usage == TokenUsage(input_tokens=375, output_tokens=56)
    assert answer.usage.total_tokens == 431
    assert (answer.model_id, answer.latency_ms) == (MODEL, 1466)


def test_prompt_caching_puts_a_cache_point_after_the_tools_and_the_system_prompt(
    stub: Stubber,
) -> None:
    request = ModelRequest(system=SYSTEM, turns=(QUESTION,), tools=(TOP_SONG,))
    stub.add_response(
        "converse",
        golden("converse_cache_usage.json"),
        expected_params={
            "modelId": MODEL,
            "messages": [
                {"role": "user", "content": [{"text": "What is the most popular song on WZPZ?"}]}
            ],
            "system": [{"text": SYSTEM}, {"cachePoint": {"type": "default"}}],
            "toolConfig": {
                "tools": [TOP_SONG_CONVERSE, {"cachePoint": {"type": "default"}}],
                "toolChoice": {"auto": {}},
            },
        },
    )

    answer = BedrockConverseProvider(MODEL, prompt_caching=True).converse(request)

    assert answer.text == "I'll look that up."
    assert [c.input for c in answer.tool_calls] == [{"sign": "WKRP"}]
    assert answer.usage == TokenUsage(
        input_tokens=24,
        output_tokens=61,
        cache_read_input_tokens=1812,
        cache_write_input_tokens=256,
    )


def test_tool_results_travel_in_a_user_message_and_the_answer_is_text(stub: Stubber) -> None:
    call = ToolCall(
        tool_use_id="tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", name="top_song", input={"sign": "WZPZ"}
    )
    request = ModelRequest(
        system=SYSTEM,
        turns=(
            QUESTION,
            AssistantTurn(tool_calls=(call,)),
            ToolResultTurn(
                results=(
                    ToolResult(
                        tool_use_id=call.tool_use_id,
                        content={"song": "Elemental Hotel", "artist": "8 Storey Hike"},
                    ),
                )
            ),
            UserTurn(text="Answer in one sentence."),
        ),
        tools=(TOP_SONG,),
    )
    stub.add_response(
        "converse",
        golden("converse_end_turn.json"),
        expected_params={
            "modelId": MODEL,
            "messages": [
                {"role": "user", "content": [{"text": "What is the most popular song on WZPZ?"}]},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                                "name": "top_song",
                                "input": {"sign": "WZPZ"},
                            }
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "toolResult": {
                                "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                                "content": [
                                    {"json": {"song": "Elemental Hotel", "artist": "8 Storey Hike"}}
                                ],
                            }
                        },
                        {"text": "Answer in one sentence."},
                    ],
                },
            ],
            "system": [{"text": SYSTEM}],
            "toolConfig": {"tools": [TOP_SONG_CONVERSE], "toolChoice": {"auto": {}}},
        },
    )

    answer = BedrockConverseProvider(MODEL).converse(request)

    assert not answer.is_tool_use
    assert answer.text == "The most popular song on WZPZ is Elemental Hotel by 8 Storey Hike."
    assert (answer.stop_reason, answer.usage.output_tokens) == ("end_turn", 21)


def test_max_tokens_is_reported_as_the_stop_reason(stub: Stubber) -> None:
    stub.add_response("converse", golden("converse_max_tokens.json"))
    request = ModelRequest(turns=(QUESTION,), options=InferenceOptions(max_tokens=10))

    answer = BedrockConverseProvider(MODEL).converse(request)

    assert (answer.stop_reason, answer.usage.output_tokens) == ("max_tokens", 10)
    assert answer.text == "The most popular song on WZPZ is Elemental"


@pytest.mark.parametrize(
    ("options", "tool_choice"),
    [
        (InferenceOptions(tool_choice="any"), {"any": {}}),
        (
            InferenceOptions(tool_choice="tool", forced_tool="top_song"),
            {"tool": {"name": "top_song"}},
        ),
    ],
)
def test_tool_choice_shapes(stub: Stubber, options: InferenceOptions, tool_choice: Any) -> None:
    stub.add_response(
        "converse",
        golden("converse_tool_use.json"),
        expected_params={
            "modelId": MODEL,
            "messages": [
                {"role": "user", "content": [{"text": "What is the most popular song on WZPZ?"}]}
            ],
            "toolConfig": {"tools": [TOP_SONG_CONVERSE], "toolChoice": tool_choice},
        },
    )
    request = ModelRequest(turns=(QUESTION,), tools=(TOP_SONG,), options=options)
    assert BedrockConverseProvider(MODEL).converse(request).tool_calls[0].name == "top_song"


def test_golden_throttling_is_transient_and_says_so(stub: Stubber) -> None:
    error = golden("converse_throttling_error.json")
    stub.add_client_error(
        "converse",
        service_error_code=error["code"],
        service_message=error["message"],
        http_status_code=error["http_status_code"],
    )
    with pytest.raises(ModelUnavailableError) as caught:
        BedrockConverseProvider(MODEL).converse(ModelRequest(turns=(QUESTION,)))
    assert isinstance(caught.value, TransientError) and caught.value.transient
    assert caught.value.code == "ThrottlingException" and caught.value.model_id == MODEL
    assert MODEL in str(caught.value) and error["message"] in str(caught.value)
    assert "quota" in str(caught.value)


def test_golden_validation_error_is_permanent_and_says_what_to_do(stub: Stubber) -> None:
    error = golden("converse_validation_error.json")
    stub.add_client_error(
        "converse",
        service_error_code=error["code"],
        service_message=error["message"],
        http_status_code=error["http_status_code"],
    )
    with pytest.raises(ModelRequestError) as caught:
        BedrockConverseProvider(MODEL).converse(ModelRequest(turns=(QUESTION,)))
    assert isinstance(caught.value, PermanentError) and not caught.value.transient
    assert MODEL in str(caught.value) and "supports tool use" in str(caught.value)


def _converse_errors() -> list[tuple[str, int]]:
    """Every error the service model declares for Converse, with its HTTP status."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return [
        (shape.name, shape.metadata["error"]["httpStatusCode"])
        for shape in model.operation_model("Converse").error_shapes
    ]


TRANSIENT = {
    "ThrottlingException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelTimeoutException",
    "ModelNotReadyException",
}


@pytest.mark.parametrize(("code", "status"), _converse_errors())
def test_every_declared_converse_error_is_mapped(stub: Stubber, code: str, status: int) -> None:
    stub.add_client_error(
        "converse", service_error_code=code, service_message="boom", http_status_code=status
    )
    expected = ModelUnavailableError if code in TRANSIENT else ModelRequestError
    with pytest.raises(expected) as caught:
        BedrockConverseProvider(MODEL).converse(ModelRequest(turns=(QUESTION,)))
    assert caught.value.code == code and MODEL in str(caught.value)


def test_undeclared_errors_follow_their_http_status(stub: Stubber) -> None:
    stub.add_client_error("converse", service_error_code="NewServerFault", http_status_code=502)
    stub.add_client_error("converse", service_error_code="NewClientFault", http_status_code=400)
    provider = BedrockConverseProvider(MODEL)
    with pytest.raises(ModelUnavailableError):
        provider.converse(ModelRequest(turns=(QUESTION,)))
    with pytest.raises(ModelRequestError):
        provider.converse(ModelRequest(turns=(QUESTION,)))


def test_an_unreachable_endpoint_is_transient() -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "bedrock-runtime",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )
    with pytest.raises(ModelUnavailableError) as caught:
        BedrockConverseProvider(MODEL, client=client).converse(ModelRequest(turns=(QUESTION,)))
    assert caught.value.code == "EndpointConnectionError"


def test_the_model_id_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SOORMA_LLM_MODEL_ID", "arn:aws:bedrock:us-east-1:111122223333:inference-profile/p"
    )
    assert BedrockConverseProvider().model_id.endswith("inference-profile/p")
    assert BedrockConverseProvider("explicit").model_id == "explicit"
    monkeypatch.delenv("SOORMA_LLM_MODEL_ID")
    with pytest.raises(ModelNotConfiguredError, match="SOORMA_LLM_MODEL_ID"):
        BedrockConverseProvider()


def test_the_client_is_created_on_the_first_call_not_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    clients.reset()
    provider = BedrockConverseProvider(MODEL)  # no client yet, so no region needed yet
    with pytest.raises(ModelRequestError) as caught:
        provider.converse(ModelRequest(turns=(QUESTION,)))
    assert caught.value.code == "NoRegionError" and "region" in str(caught.value)
    clients.reset()


def test_importing_soorma_ai_imports_no_aws_sdk() -> None:
    code = (
        "import sys, soorma.ai; print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
