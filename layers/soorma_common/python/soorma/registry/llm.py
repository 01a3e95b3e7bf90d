"""Events described for a language model: compact text, and tool specs (OpenAI, Bedrock).

Deterministic: events sorted by name, fields in schema order, no timestamps, so that the same
registry gives the same prompt (and prompt caches keep working). Tool names encode event names
one to one (`tool_name` / `event_name_of_tool_name`): two events never share a tool name.

Bounded: `tool_specs` refuses more OpenAI tools than `MAX_TOOLS` (128, OpenAI's limit per
request) and more tools of either flavor than a `max_tools` given (`TooManyToolsError`);
`describe_events` shows at most `MAX_ENUM_VALUES_SHOWN` (20) values of an enum; and the
registry refuses action requests (the events planners offer as tools) whose name makes no tool
name (`check_tool_name`), so that one registration cannot break every planner.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from soorma.registry.entries import EventRecord
from soorma_common.definitions import JsonSchema
from soorma_common.errors import PermanentError
from soorma_common.topics import EventTopic

ToolFlavor = Literal["openai", "bedrock"]
_EMPTY_OBJECT: JsonSchema = {"type": "object", "properties": {}}
#: The longest tool name OpenAI and Bedrock accept (`^[a-zA-Z0-9_-]{1,64}$`).
MAX_TOOL_NAME = 64
_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ESCAPE = "_"
_HEX_DIGITS = frozenset("0123456789abcdef")
#: The most OpenAI tools `tool_specs` returns by default: OpenAI refuses a request with more
#: than 128 tools (`array_above_max_length`). Bedrock's Converse API documents no such limit, so
#: Bedrock tools are bounded only by a `max_tools` given.
MAX_TOOLS = 128
_DEFAULT_MAX_TOOLS: dict[str, int | None] = {"openai": MAX_TOOLS, "bedrock": None}
#: The enum values `describe_events` shows per field; the rest are counted (`... and N more`).
MAX_ENUM_VALUES_SHOWN = 20
#: The topics whose events planners offer as tools (`EventToolkit.discover_actionable_events`).
TOOL_TOPICS = frozenset({EventTopic.ACTION_REQUESTS})


class ToolNameError(PermanentError, ValueError):
    """An event name with no tool name (too long once encoded), or a tool name that stands for
    no event name."""


class TooManyToolsError(PermanentError, ValueError):
    """More events than one model request may carry as tools (`MAX_TOOLS`, or `max_tools`)."""


def check_tool_name(event: EventRecord) -> None:
    """Raise `ToolNameError` when `event` is on a topic planners offer as tools (`TOOL_TOPICS`)
    and its name makes no tool name (over 64 characters once encoded): what the registry checks
    where an event enters, so that one such event cannot break every planner's tool list."""
    if event.topic not in TOOL_TOPICS:
        return
    try:
        tool_name(event.name)
    except ToolNameError as exc:
        raise ToolNameError(
            f"{exc}; the registry refuses it because planners offer every "
            f"{event.topic.value} event to a language model as a tool, and a tool name has at "
            f"most {MAX_TOOL_NAME} characters (the {MAX_TOOL_NAME}-character tool-name limit)"
        ) from None


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
    """One compact block per event: name, topic, description, when to use it, fields.

    An enum shows its first `MAX_ENUM_VALUES_SHOWN` (20) values and counts the rest
    (`... and 29980 more`): a long enum does not flood the prompt.
    """
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
    events: Iterable[EventRecord], flavor: ToolFlavor = "openai", *, max_tools: int | None = None
) -> list[dict[str, Any]]:
    """Tool definitions, one per event, whose arguments are the event's payload.

    `openai`: Chat Completions `tools` entries; `bedrock`: Converse API `toolConfig.tools` entries.
    Raises `TooManyToolsError` (permanent) for more than `max_tools` events; by default
    `MAX_TOOLS` (128, OpenAI's limit) for `openai` and no bound for `bedrock`: narrow the events
    (a topic, a name pattern, a capability) first.
    """
    ordered = sorted(events, key=lambda e: e.name)
    bound = max_tools if max_tools is not None else _DEFAULT_MAX_TOOLS.get(flavor)
    if bound is not None and len(ordered) > bound:
        raise TooManyToolsError(
            f"{len(ordered)} events are more {flavor} tools than one model request may carry "
            f"(at most {bound}; OpenAI refuses more than {MAX_TOOLS}): narrow them first, e.g. "
            "toolkit.discover_events(topic=..., pattern='order.*') or the events one capability "
            "needs, or pass max_tools"
        )
    specs = []
    for event in ordered:
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
            return f"{declared} in {_enum_text(schema['enum'])}"
        return declared
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            return "|".join(_type_of(b, root) for b in branches)
    if "enum" in schema:
        return f"one of {_enum_text(schema['enum'])}"
    return "any"


def _enum_text(values: Any) -> str:
    """An enum's values as JSON, the first `MAX_ENUM_VALUES_SHOWN` only (`... and N more`)."""
    if not isinstance(values, list) or len(values) <= MAX_ENUM_VALUES_SHOWN:
        return json.dumps(values)
    shown = json.dumps(values[:MAX_ENUM_VALUES_SHOWN])[:-1]
    return f"{shown}, ... and {len(values) - MAX_ENUM_VALUES_SHOWN} more]"
