"""Events described for a language model: compact text, and tool specs (OpenAI, Bedrock).

Deterministic: events sorted by name, fields in schema order, no timestamps, so that the same
registry gives the same prompt (and prompt caches keep working). Tool names encode event names
one to one (`tool_name` / `event_name_of_tool_name`): two events never share a tool name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from soorma.registry.entries import EventRecord
from soorma_common.definitions import JsonSchema
from soorma_common.errors import PermanentError

ToolFlavor = Literal["openai", "bedrock"]
_EMPTY_OBJECT: JsonSchema = {"type": "object", "properties": {}}
#: The longest tool name OpenAI and Bedrock accept (`^[a-zA-Z0-9_-]{1,64}$`).
MAX_TOOL_NAME = 64
_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ESCAPE = "_"
_HEX_DIGITS = frozenset("0123456789abcdef")


class ToolNameError(PermanentError, ValueError):
    """An event name with no tool name (too long once encoded), or a tool name that stands for
    no event name."""


def tool_name(event_name: str) -> str:
    """The tool name of an event, in the alphabet OpenAI and Bedrock accept (`[A-Za-z0-9_-]`,
    at most 64 characters). Injective and reversible (`event_name_of_tool_name`):

    - letters and digits stay; `.` becomes `-` (`ticket.route.tier2` -> `ticket-route-tier2`);
    - `_` is the escape: `_` -> `__`, `-` -> `_-`, any other character -> `_` and the two
      lowercase hex digits of each of its UTF-8 bytes (` ` -> `_20`).

    Raises `ToolNameError` when the encoded name is longer than 64 characters.
    """
    parts: list[str] = []
    for char in event_name:
        if char in _KEPT:
            parts.append(char)
        elif char == ".":
            parts.append("-")
        elif char in (_ESCAPE, "-"):
            parts.append(_ESCAPE + char)
        else:
            parts.extend(f"{_ESCAPE}{byte:02x}" for byte in char.encode("utf-8"))
    name = "".join(parts)
    if not name or len(name) > MAX_TOOL_NAME:
        raise ToolNameError(
            f"event {event_name!r} has no tool name: encoded it is {name!r} ({len(name)} "
            f"characters), and tool names have 1 to {MAX_TOOL_NAME}; give the event a shorter "
            "name (letters, digits and dots cost one character each)"
        )
    return name


def event_name_of_tool_name(name: str) -> str:
    """The event name a tool name encodes (the inverse of `tool_name`); `ToolNameError` when
    `name` is not an encoded event name."""
    decoded = bytearray()
    index = 0
    while index < len(name):
        char = name[index]
        if char in _KEPT:
            decoded += char.encode()
        elif char == "-":
            decoded += b"."
        elif char == _ESCAPE and name[index + 1 : index + 2] in (_ESCAPE, "-"):
            decoded += name[index + 1].encode()
            index += 1
        elif char == _ESCAPE and set(name[index + 1 : index + 3]) <= _HEX_DIGITS:
            if len(name[index + 1 : index + 3]) != 2:
                raise ToolNameError(f"tool name {name!r} ends inside an escape")
            decoded.append(int(name[index + 1 : index + 3], 16))
            index += 2
        else:
            raise ToolNameError(f"tool name {name!r} is not an encoded event name (at {index})")
        index += 1
    try:
        event_name = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolNameError(f"tool name {name!r} encodes invalid UTF-8") from None
    if tool_name(event_name) != name:  # e.g. `_2e` for a dot: not the canonical encoding
        raise ToolNameError(f"tool name {name!r} is not the canonical encoding of {event_name!r}")
    return event_name


def event_name_of_tool(name: str, events: Iterable[EventRecord]) -> str | None:
    """The event among `events` that the tool name `name` stands for, or None."""
    try:
        wanted = event_name_of_tool_name(name)
    except ToolNameError:
        return None
    return wanted if any(event.name == wanted for event in events) else None


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
