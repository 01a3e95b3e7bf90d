"""What a language model answers: a typed decision (tool calls or text), why it stopped, and
what it cost in tokens."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from soorma.ai.providers.conversation import ToolCall

#: The stop reasons Bedrock Converse reports (`StopReason` in the API reference). Other providers
#: map theirs onto these; a value outside this list is kept as the provider sent it.
STOP_REASONS: Final = (
    "end_turn",
    "tool_use",
    "max_tokens",
    "stop_sequence",
    "guardrail_intervened",
    "content_filtered",
    "malformed_model_output",
    "malformed_tool_use",
    "model_context_window_exceeded",
)


class TokenUsage(BaseModel):
    """Tokens one call consumed. Cache counts are `None` when the provider did not report them
    (no prompt caching, or a model without it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cache_read_input_tokens: int | None = Field(default=None, ge=0)
    cache_write_input_tokens: int | None = Field(default=None, ge=0)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens (what Converse reports as `totalTokens`)."""
        return self.input_tokens + self.output_tokens


class ModelResponse(BaseModel):
    """One answer of a language model.

    The decision is `tool_calls` when there are any (the model wants those tools called, in
    order), otherwise `text`. A model may also say something (`text`) alongside its tool calls.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool_calls: tuple[ToolCall, ...] = ()
    text: str | None = None
    stop_reason: str
    usage: TokenUsage
    model_id: str
    #: The provider's own measure of the call, when it reports one (Converse `metrics.latencyMs`).
    latency_ms: int | None = None
    #: Why a tool call of the answer could not be read (a name that is not a tool name, an
    #: input that is not a JSON object), or None. Such calls are left out of `tool_calls`, and
    #: the decision rejects the answer (`soorma.ai.answer_checks`).
    malformed: str | None = None

    @property
    def is_tool_use(self) -> bool:
        """Whether the model asks for at least one tool call."""
        return bool(self.tool_calls)
