"""The language model is chosen by configuration (`SOORMA_LLM_PROVIDER`, `soorma dev --llm`),
and each model call's tokens become EMF metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from soorma.ai import (
    BedrockConverseProvider,
    ModelNotConfiguredError,
    ModelRequest,
    RecordedProvider,
    ScriptedProvider,
    TokenUsage,
    UserTurn,
)
from soorma.ai.billing import count_tokens
from soorma.ai.providers import configured_model

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def test_bedrock_is_the_default_with_the_agents_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOORMA_LLM_MODEL_ID", MODEL)  # what the stack sets from the manifest
    model = configured_model(env={})
    assert isinstance(model, BedrockConverseProvider) and model.model_id == MODEL
    chosen = configured_model("us.anthropic.x-v1:0", env={"SOORMA_LLM_PROVIDER": "bedrock"})
    assert isinstance(chosen, BedrockConverseProvider) and chosen.model_id == "us.anthropic.x-v1:0"


def test_a_recording_or_a_script_is_chosen_by_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = tmp_path / "answers.jsonl"
    recording.write_text("")
    assert isinstance(
        configured_model(env={"SOORMA_LLM_PROVIDER": f"recorded:{recording}"}), RecordedProvider
    )
    (tmp_path / "my_script.py").write_text("ANSWERS = ['hello']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    scripted = configured_model(env={"SOORMA_LLM_PROVIDER": "scripted:my_script:ANSWERS"})
    assert isinstance(scripted, ScriptedProvider)
    request = ModelRequest(turns=(UserTurn(text="hi"),))
    assert scripted.converse(request).text == "hello"
    sys.modules.pop("my_script", None)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("openai", "names no provider"),
        ("scripted:nowhere_module:answer", "cannot load 'answer'"),
        ("recorded:", "names no provider"),
    ],
)
def test_a_provider_that_cannot_be_built_is_a_permanent_error(spec: str, says: str) -> None:
    with pytest.raises(ModelNotConfiguredError, match=says):
        configured_model(env={"SOORMA_LLM_PROVIDER": spec})


def test_the_cli_refuses_an_llm_it_cannot_use(tmp_path: Path) -> None:
    from soorma_dev.cli.dev import language_model_setting
    from soorma_dev.cli.errors import CommandError

    recording = tmp_path / "r.jsonl"
    recording.write_text("")
    assert language_model_setting(f"recorded:{recording}") == f"recorded:{recording.resolve()}"
    assert language_model_setting("scripted:mod:fn") == "scripted:mod:fn"
    assert language_model_setting("bedrock") == "bedrock"
    with pytest.raises(CommandError, match="no recording at"):
        language_model_setting(f"recorded:{tmp_path / 'missing.jsonl'}")
    for bad in ("gpt", "scripted:only_module", "scripted::fn"):
        with pytest.raises(CommandError, match="names no language model"):
            language_model_setting(bad)


def test_each_model_calls_tokens_are_emitted_as_metrics(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    count_tokens("advisor", MODEL, TokenUsage(input_tokens=812, output_tokens=40))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    values = {
        name: line[name]
        for line in lines
        for name in ("LlmInputTokens", "LlmOutputTokens")
        if name in line
    }
    assert values == {"LlmInputTokens": [812.0], "LlmOutputTokens": [40.0]}
    assert {line["model_id"] for line in lines} == {MODEL}
    assert {line["service"] for line in lines} == {"advisor"}
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    count_tokens("advisor", MODEL, TokenUsage(input_tokens=1, output_tokens=1))
    assert capsys.readouterr().out == ""
