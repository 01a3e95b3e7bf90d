"""Agents that reason (see docs/choreography.md).

- The provider seam (`soorma.ai.providers`): `LanguageModel`, Bedrock, scripted, recorded.
- `EventToolkit` (`soorma.ai.event_toolkit`): discovery of the registered events, awaitable.
- `EventSelector` (`soorma.ai.selector`): one checked decision, which event fits an input.
- `ChoreographyPlanner` (`soorma.ai.choreography`): a planner whose steps a model decides, with
  persisted limits, a hallucination guard and vague-result detection.
"""

from soorma.ai.choreography import INPUT_EVENT, ChoreographyPlanner
from soorma.ai.control_tools import DEFAULT_VAGUE_INDICATORS
from soorma.ai.decisions import DecisionFailedError
from soorma.ai.event_toolkit import DiscoveredEvent, DiscoveredEvents, EventToolkit
from soorma.ai.providers import (
    MODEL_ID_VARIABLE,
    STOP_REASONS,
    AssistantTurn,
    BedrockConverseProvider,
    InferenceOptions,
    LanguageModel,
    ModelNotConfiguredError,
    ModelRequest,
    ModelRequestError,
    ModelResponse,
    ModelUnavailableError,
    RecordedProvider,
    RecordingMissError,
    RecordingProvider,
    ScriptedProvider,
    ScriptExhaustedError,
    TokenUsage,
    ToolCall,
    ToolResult,
    ToolResultTurn,
    ToolSpec,
    Turn,
    UserTurn,
    estimate_tokens,
    request_fingerprint,
)
from soorma.ai.selector import EventSelector, NoEventsToSelectError, Selection

__all__ = [
    "DEFAULT_VAGUE_INDICATORS",
    "INPUT_EVENT",
    "MODEL_ID_VARIABLE",
    "STOP_REASONS",
    "AssistantTurn",
    "BedrockConverseProvider",
    "ChoreographyPlanner",
    "DecisionFailedError",
    "DiscoveredEvent",
    "DiscoveredEvents",
    "EventSelector",
    "EventToolkit",
    "InferenceOptions",
    "LanguageModel",
    "ModelNotConfiguredError",
    "ModelRequest",
    "ModelRequestError",
    "ModelResponse",
    "ModelUnavailableError",
    "NoEventsToSelectError",
    "RecordedProvider",
    "RecordingMissError",
    "RecordingProvider",
    "ScriptExhaustedError",
    "ScriptedProvider",
    "Selection",
    "TokenUsage",
    "ToolCall",
    "ToolResult",
    "ToolResultTurn",
    "ToolSpec",
    "Turn",
    "UserTurn",
    "estimate_tokens",
    "request_fingerprint",
]
