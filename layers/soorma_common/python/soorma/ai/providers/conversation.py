"""What a language model is asked: instructions, turns, tools and inference options.

Provider-neutral: nothing here knows Bedrock, OpenAI or any wire format. A provider translates a
`ModelRequest` into its own request (see `converse_shapes` for Bedrock Converse). Every model is
frozen and JSON-serialisable, so a request can be fingerprinted and recorded.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from soorma_common.definitions import JsonSchema

#: How the model may choose tools: `auto` (tool or text), `any` (some tool), `tool` (`forced_tool`).
ToolChoiceMode = Literal["auto", "any", "tool"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolCall(_Frozen):
    """One tool the model asks to call: its name, its input and the id that pairs the result."""

    tool_use_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    name: str = Field(min_length=1, max_length=64)
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResult(_Frozen):
    """The outcome of one tool call, sent back to the model: text or a JSON object."""

    tool_use_id: str = Field(min_length=1, max_length=64)
    content: str | dict[str, Any]
    is_error: bool = False


class UserTurn(_Frozen):
    """A message from the user (or from the application speaking for the user)."""

    kind: Literal["user"] = "user"
    text: str = Field(min_length=1)


class AssistantTurn(_Frozen):
    """An earlier answer of the model: text, tool calls, or both."""

    kind: Literal["assistant"] = "assistant"
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> AssistantTurn:
        if not self.text and not self.tool_calls:
            raise ValueError("an assistant turn needs text or at least one tool call")
        return self


class ToolResultTurn(_Frozen):
    """The results of the tool calls of the previous assistant turn."""

    kind: Literal["tool_results"] = "tool_results"
    results: tuple[ToolResult, ...] = Field(min_length=1)


#: One turn of a conversation (discriminated by `kind`).
Turn = Annotated[UserTurn | AssistantTurn | ToolResultTurn, Field(discriminator="kind")]


class ToolSpec(_Frozen):
    """A tool the model may call: a name, what it does, and the JSON Schema of its input."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
    description: str = Field(min_length=1)
    input_schema: JsonSchema = Field(default_factory=lambda: {"type": "object", "properties": {}})

    @classmethod
    def from_converse(cls, spec: dict[str, Any]) -> ToolSpec:
        """A `ToolSpec` from a Converse `toolConfig.tools` entry (e.g. the registry's
        `tool_specs(events, "bedrock")`)."""
        body = spec["toolSpec"]
        return cls(
            name=body["name"],
            description=body.get("description") or body["name"],
            input_schema=body["inputSchema"]["json"],
        )


class InferenceOptions(_Frozen):
    """Options common to every model: output length, randomness and tool choice."""

    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=1)
    tool_choice: ToolChoiceMode = "auto"
    #: The tool the model must call when `tool_choice` is `tool`.
    forced_tool: str | None = None

    @model_validator(mode="after")
    def _forced_tool_matches_choice(self) -> InferenceOptions:
        if (self.tool_choice == "tool") != (self.forced_tool is not None):
            raise ValueError(
                "set forced_tool exactly when tool_choice is 'tool' "
                f"(tool_choice={self.tool_choice!r}, forced_tool={self.forced_tool!r})"
            )
        return self


class ModelRequest(_Frozen):
    """Everything one call to a language model sends: system instructions, the conversation,
    the tools it may call and the inference options."""

    system: str = ""
    turns: tuple[Turn, ...] = Field(min_length=1)
    tools: tuple[ToolSpec, ...] = ()
    options: InferenceOptions = InferenceOptions()

    @model_validator(mode="after")
    def _consistent(self) -> ModelRequest:
        if self.turns[0].kind == "assistant":
            raise ValueError("a conversation starts with a user turn or tool results")
        names = [tool.name for tool in self.tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        if self.options.forced_tool is not None and self.options.forced_tool not in names:
            raise ValueError(
                f"forced_tool {self.options.forced_tool!r} is not among the tools {names}"
            )
        if self.options.tool_choice != "auto" and not self.tools:
            raise ValueError(f"tool_choice {self.options.tool_choice!r} needs at least one tool")
        return self

    def canonical_json(self) -> str:
        """The request as compact JSON with sorted keys: equal requests give equal text."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
