"""Events described for a language model: compact text, and tool specs (OpenAI, Bedrock).

Deterministic: events sorted by name, fields in schema order, no timestamps, so that the same
registry gives the same prompt (and prompt caches keep working).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from soorma.registry.entries import EventRecord
from soorma_common.definitions import JsonSchema

ToolFlavor = Literal["openai", "bedrock"]
_TOOL_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_EMPTY_OBJECT: JsonSchema = {"type": "object", "properties": {}}


def tool_name(event_name: str) -> str:
    """A tool name both OpenAI and Bedrock accept (`[A-Za-z0-9_-]{1,64}`): dots become `__`."""
    return _TOOL_NAME_UNSAFE.sub("_", event_name.replace(".", "__"))[:64]


def event_name_of_tool(name: str, events: Iterable[EventRecord]) -> str | None:
    """The event a tool name stands for (the inverse of `tool_name` over `events`)."""
    for event in events:
        if tool_name(event.name) == name:
            return event.name
    return None


def describe_events(events: Iterable[EventRecord]) -> str:
    """One compact block per event: name, topic, description, when to use it, fields."""
    blocks = []
    for event in sorted(events, key=lambda e: e.name):
        lines = [
            f"- {event.name} (topic {event.topic.value}, v{event.version}): "
            f"{event.description or 'no description'}"
        ]
        when = event.metadata.get("when_to_use")
        if when:
            lines.append(f"  when to use: {when}")
        lines.append(f"  payload: {describe_schema(event.payload_schema)}")
        if event.response_schema:
            lines.append(f"  response: {describe_schema(event.response_schema)}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def describe_schema(schema: JsonSchema | None) -> str:
    """`{order_id: string (required), note: string|null}`; `any` when there is no schema."""
    if not schema:
        return "any"
    properties = schema.get("properties") or {}
    if not properties:
        return _type_of(schema, schema)
    required = set(schema.get("required") or ())
    fields = []
    for name, prop in properties.items():
        text = f"{name}: {_type_of(prop, schema)}"
        if name in required:
            text += " (required)"
        description = prop.get("description") if isinstance(prop, dict) else None
        if description:
            text += f" - {description}"
        fields.append(text)
    return "{" + ", ".join(fields) + "}"


def tool_specs(
    events: Iterable[EventRecord], flavor: ToolFlavor = "openai"
) -> list[dict[str, Any]]:
    """Tool definitions, one per event, whose arguments are the event's payload.

    `openai`: Chat Completions `tools` entries; `bedrock`: Converse API `toolConfig.tools` entries.
    """
    specs = []
    for event in sorted(events, key=lambda e: e.name):
        parameters = event.payload_schema or _EMPTY_OBJECT
        description = f"Publish {event.name} on {event.topic.value}. {event.description}".strip()
        when = event.metadata.get("when_to_use")
        if when:
            description += f" When to use: {when}"
        if flavor == "openai":
            specs.append(
                {
                    "type": "function",
                    "function": {
                        "name": tool_name(event.name),
                        "description": description,
                        "parameters": parameters,
                    },
                }
            )
        elif flavor == "bedrock":
            specs.append(
                {
                    "toolSpec": {
                        "name": tool_name(event.name),
                        "description": description,
                        "inputSchema": {"json": parameters},
                    }
                }
            )
        else:
            raise ValueError(f"unknown tool flavor {flavor!r}: use 'openai' or 'bedrock'")
    return specs


def _type_of(schema: Any, root: JsonSchema) -> str:
    if not isinstance(schema, dict):
        return "any"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return ref.rsplit("/", 1)[-1]
    declared = schema.get("type")
    if isinstance(declared, list):
        return "|".join(str(t) for t in declared)
    if declared == "array":
        return f"array[{_type_of(schema.get('items'), root)}]"
    if isinstance(declared, str):
        if "enum" in schema:
            return f"{declared} in {json.dumps(schema['enum'])}"
        return declared
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            return "|".join(_type_of(b, root) for b in branches)
    if "enum" in schema:
        return f"one of {json.dumps(schema['enum'])}"
    return "any"
