"""Translation between Soorma's provider-neutral types and Bedrock Converse shapes (pure).

Shapes follow the Amazon Bedrock API reference for `Converse` (request: `messages`, `system`,
`inferenceConfig`, `toolConfig`; response: `output.message.content`, `stopReason`, `usage`,
`metrics`). The recorded provider stores exchanges in these shapes, so a recording reads like
the Bedrock traffic it stands for.
"""

from __future__ import annotations

import re
from typing import Any

from soorma.ai.providers.conversation import (
    AssistantTurn,
    ModelRequest,
    ToolCall,
    ToolResult,
    ToolResultTurn,
    UserTurn,
)
from soorma.ai.providers.decision import ModelResponse, TokenUsage


def cache_point() -> dict[str, Any]:
    """A fresh `cachePoint` block, marking the end of a cacheable prefix (`CachePointBlock`)."""
    return {"cachePoint": {"type": "default"}}


def converse_request(request: ModelRequest, *, prompt_caching: bool = False) -> dict[str, Any]:
    """The keyword arguments of `bedrock-runtime.converse` for `request`, without `modelId`.

    With `prompt_caching`, a `cachePoint` follows the tool list and the system prompt, so the
    model may cache that prefix (models without caching reject it: switch it on per model).
    """
    kwargs: dict[str, Any] = {"messages": _messages(request)}
    if request.system:
        system: list[dict[str, Any]] = [{"text": request.system}]
        if prompt_caching:
            system.append(cache_point())
        kwargs["system"] = system
    inference: dict[str, Any] = {}
    if request.options.max_tokens is not None:
        inference["maxTokens"] = request.options.max_tokens
    if request.options.temperature is not None:
        inference["temperature"] = request.options.temperature
    if inference:
        kwargs["inferenceConfig"] = inference
    if request.tools:
        tools: list[dict[str, Any]] = [
            {
                "toolSpec": {
                    "name": tool.name,
                    "description": tool.description,
                    "inputSchema": {"json": tool.input_schema},
                }
            }
            for tool in request.tools
        ]
        if prompt_caching:
            tools.append(cache_point())
        kwargs["toolConfig"] = {"tools": tools, "toolChoice": _tool_choice(request)}
    return kwargs


def _tool_choice(request: ModelRequest) -> dict[str, Any]:
    options = request.options
    if options.tool_choice == "tool":
        return {"tool": {"name": options.forced_tool}}
    return {options.tool_choice: {}}


def _messages(request: ModelRequest) -> list[dict[str, Any]]:
    """Converse messages: tool results travel in user messages, and consecutive turns of one
    role are merged, because Converse wants user and assistant messages to alternate."""
    messages: list[dict[str, Any]] = []
    for turn in request.turns:
        if isinstance(turn, UserTurn):
            role, content = "user", [{"text": turn.text}]
        elif isinstance(turn, ToolResultTurn):
            role, content = "user", [_tool_result(result) for result in turn.results]
        else:
            role, content = "assistant", _assistant_content(turn)
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(content)
        else:
            messages.append({"role": role, "content": content})
    return messages


def _assistant_content(turn: AssistantTurn) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"text": turn.text}] if turn.text else []
    content.extend(_tool_use(call) for call in turn.tool_calls)
    return content


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"toolUse": {"toolUseId": call.tool_use_id, "name": call.name, "input": call.input}}


def _tool_result(result: ToolResult) -> dict[str, Any]:
    content = result.content
    block = {"json": content} if isinstance(content, dict) else {"text": content}
    body: dict[str, Any] = {"toolUseId": result.tool_use_id, "content": [block]}
    if result.is_error:
        body["status"] = "error"
    return {"toolResult": body}


def model_response(converse: dict[str, Any], *, model_id: str) -> ModelResponse:
    """A `ModelResponse` from a Converse response (extra fields such as `ResponseMetadata` are
    ignored; reasoning and other non-text, non-tool blocks are skipped)."""
    content = converse.get("output", {}).get("message", {}).get("content") or []
    texts = [block["text"] for block in content if "text" in block]
    calls: list[ToolCall] = []
    malformed = []
    for position, block in enumerate(b["toolUse"] for b in content if "toolUse" in b):
        problem = _tool_use_problem(block)
        if problem is None:
            calls.append(
                ToolCall(
                    tool_use_id=block["toolUseId"],
                    name=block["name"],
                    input=block.get("input") or {},
                )
            )
        else:
            malformed.append(f"tool call {position + 1}: {problem}")
    usage = converse.get("usage") or {}
    latency = (converse.get("metrics") or {}).get("latencyMs")
    return ModelResponse(
        tool_calls=() if malformed else tuple(calls),
        malformed="; ".join(malformed) or None,
        text="\n".join(texts) if texts else None,
        stop_reason=converse["stopReason"],
        usage=TokenUsage(
            input_tokens=usage.get("inputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
            cache_read_input_tokens=usage.get("cacheReadInputTokens"),
            cache_write_input_tokens=usage.get("cacheWriteInputTokens"),
        ),
        model_id=model_id,
        latency_ms=int(latency) if latency is not None else None,
    )


#: A Converse tool name (`ToolSpecification.name`): 1-64 letters, digits, `_` or `-`.
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def _tool_use_problem(block: Any) -> str | None:
    """Why a `toolUse` block cannot be read as a tool call (None when it can). Nothing of it is
    quoted whole: a name or input the model made up may be long or not text at all."""
    if not isinstance(block, dict):
        return "not a toolUse object"
    name = block.get("name")
    if not isinstance(name, str):
        return "it has no name"
    if _TOOL_NAME.fullmatch(name) is None:
        shown = repr(name[:40]) + ("…" if len(name) > 40 else "")
        return f"its name {shown} is not a tool name (1-64 letters, digits, '_' or '-')"
    tool_use_id = block.get("toolUseId")
    if not isinstance(tool_use_id, str) or _TOOL_NAME.fullmatch(tool_use_id) is None:
        return f"{name!r} has no valid toolUseId"
    arguments = block.get("input")
    if arguments is not None and not isinstance(arguments, dict):
        return f"the input of {name!r} is {type(arguments).__name__}, not a JSON object"
    return None


def converse_response(response: ModelResponse) -> dict[str, Any]:
    """The Converse response `response` stands for (the inverse of `model_response`)."""
    content: list[dict[str, Any]] = [{"text": response.text}] if response.text is not None else []
    content.extend(_tool_use(call) for call in response.tool_calls)
    usage: dict[str, Any] = {
        "inputTokens": response.usage.input_tokens,
        "outputTokens": response.usage.output_tokens,
        "totalTokens": response.usage.total_tokens,
    }
    if response.usage.cache_read_input_tokens is not None:
        usage["cacheReadInputTokens"] = response.usage.cache_read_input_tokens
    if response.usage.cache_write_input_tokens is not None:
        usage["cacheWriteInputTokens"] = response.usage.cache_write_input_tokens
    converse: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": response.stop_reason,
        "usage": usage,
    }
    if response.latency_ms is not None:
        converse["metrics"] = {"latencyMs": response.latency_ms}
    return converse
