"""The language model chosen by configuration: `SOORMA_LLM_PROVIDER`.

- unset or `bedrock`: `BedrockConverseProvider` (the model: the argument, else
  `SOORMA_LLM_MODEL_ID`);
- `recorded:<path>`: `RecordedProvider(<path>)`, replaying a recording offline;
- `scripted:<module>:<name>`: `ScriptedProvider(<module>.<name>)` for a script (a list or a
  function), or `<module>.<name>` itself when it is a `LanguageModel`.

So the same agent code calls Bedrock on AWS and a recording or a script under `soorma dev
--llm ...` and in tests, with no code change.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Final

from soorma.ai.providers.bedrock import BedrockConverseProvider
from soorma.ai.providers.errors import ModelNotConfiguredError
from soorma.ai.providers.protocol import LanguageModel
from soorma.ai.providers.recorded import RecordedProvider
from soorma.ai.providers.scripted import ScriptedProvider
from soorma_common.environment import LLM_PROVIDER

#: The environment variable that chooses the provider.
PROVIDER_VARIABLE: Final = LLM_PROVIDER


def provider_spec(spec: str) -> tuple[str, str]:
    """`(kind, argument)` of a provider setting (`bedrock`, `recorded:<path>`,
    `scripted:<module>:<name>`), or `ModelNotConfiguredError` saying what is accepted."""
    kind, _, argument = spec.strip().partition(":")
    if kind in ("", "bedrock") and not argument:
        return "bedrock", ""
    if kind == "recorded" and argument:
        return kind, argument
    module_name, _, name = argument.rpartition(":")
    if kind == "scripted" and module_name and name and ":" not in module_name:
        return kind, argument
    raise ModelNotConfiguredError(
        f"{PROVIDER_VARIABLE}={spec!r} names no provider: use bedrock, recorded:<path> or "
        "scripted:<module>:<name>"
    )


def configured_model(
    model_id: str | None = None, env: Mapping[str, str] | None = None
) -> LanguageModel:
    """The provider `SOORMA_LLM_PROVIDER` names (`env` defaults to `os.environ`)."""
    spec = (os.environ if env is None else env).get(PROVIDER_VARIABLE, "")
    kind, argument = provider_spec(spec)
    if kind == "bedrock":
        return BedrockConverseProvider(model_id)
    if kind == "recorded":
        return RecordedProvider(argument)
    module_name, _, name = argument.rpartition(":")
    try:
        script = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ModelNotConfiguredError(
            f"{PROVIDER_VARIABLE}={spec!r}: cannot load {name!r} from {module_name!r}: {exc}"
        ) from None
    if hasattr(script, "converse"):
        return script  # type: ignore[no-any-return]
    return ScriptedProvider(script, model_id=model_id or "scripted")
