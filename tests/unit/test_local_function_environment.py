"""An agent's environment in the local cloud is the one the CDK stack gives its function:
the manifest's first model becomes `SOORMA_LLM_MODEL_ID` there too."""

from __future__ import annotations

from soorma_common.environment import function_environment
from soorma_dev.provision import Platform

TABLES = {role: f"t-{role}" for role in ("registry", "memory", "events", "idempotency")}
MODELS = ["us.anthropic.claude-3-5-haiku-20241022-v1:0", "amazon.nova-lite-v1:0"]


def platform() -> Platform:
    return Platform("local", "soorma-local", TABLES, {})


def test_the_first_declared_model_is_the_agents_model_id() -> None:
    environment = platform().environment("advisor", MODELS)
    assert environment["SOORMA_LLM_MODEL_ID"] == MODELS[0]
    assert environment == function_environment(
        stage="local", agent="advisor", bus="soorma-local", tables=TABLES, llm_models=MODELS
    )


def test_an_agent_declaring_no_model_gets_no_model_id() -> None:
    assert "SOORMA_LLM_MODEL_ID" not in platform().environment("advisor")
