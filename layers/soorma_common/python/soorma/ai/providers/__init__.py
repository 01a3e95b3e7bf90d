"""Language-model providers: one small protocol and three implementations.

- `BedrockConverseProvider`: Amazon Bedrock's Converse API (the default on AWS).
- `ScriptedProvider`: deterministic answers from a list or a function (tests, local cloud).
- `RecordedProvider` / `RecordingProvider`: replay / record Converse exchanges (offline runs).

`configured_model()` picks one by configuration (`SOORMA_LLM_PROVIDER`): what the planner and
the selector use when no model is passed.
"""

from soorma.ai.providers.bedrock import MODEL_ID_VARIABLE, BedrockConverseProvider
from soorma.ai.providers.configured import PROVIDER_VARIABLE, configured_model
from soorma.ai.providers.conversation import (
    AssistantTurn,
    InferenceOptions,
    ModelRequest,
    ToolCall,
    ToolResult,
    ToolResultTurn,
    ToolSpec,
    Turn,
    UserTurn,
)
from soorma.ai.providers.decision import STOP_REASONS, ModelResponse, TokenUsage
from soorma.ai.providers.errors import (
    ModelNotConfiguredError,
    ModelRequestError,
    ModelUnavailableError,
    RecordingMissError,
    ScriptExhaustedError,
)
from soorma.ai.providers.protocol import LanguageModel
from soorma.ai.providers.recorded import RecordedProvider, RecordingProvider, request_fingerprint
from soorma.ai.providers.scripted import ScriptedProvider, estimate_tokens

__all__ = [
    "MODEL_ID_VARIABLE",
    "PROVIDER_VARIABLE",
    "STOP_REASONS",
    "AssistantTurn",
    "BedrockConverseProvider",
    "InferenceOptions",
    "LanguageModel",
    "ModelNotConfiguredError",
    "ModelRequest",
    "ModelRequestError",
    "ModelResponse",
    "ModelUnavailableError",
    "RecordedProvider",
    "RecordingMissError",
    "RecordingProvider",
    "ScriptExhaustedError",
    "ScriptedProvider",
    "TokenUsage",
    "ToolCall",
    "ToolResult",
    "ToolResultTurn",
    "ToolSpec",
    "Turn",
    "UserTurn",
    "configured_model",
    "estimate_tokens",
    "request_fingerprint",
]
