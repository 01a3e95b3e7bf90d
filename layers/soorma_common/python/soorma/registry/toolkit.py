"""`EventToolkit`: discovery for planners and LLMs, on top of `RegistryClient`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, overload

from soorma.registry.client import RegistryClient
from soorma.registry.entries import EventRecord
from soorma.registry.llm import ToolFlavor, describe_events, tool_specs
from soorma.registry.validation import PayloadValidator
from soorma_common.errors import PermanentError
from soorma_common.topics import EventTopic


class UnknownEventError(PermanentError, LookupError):
    """An event name the registry does not hold."""


class EventToolkit:
    """What may be asked for, and how: discovery, descriptions for LLMs, payload checks."""

    def __init__(self, registry: RegistryClient) -> None:
        self.registry = registry
        # (event, response?) -> the record it was built for and its validator
        self._validators: dict[tuple[str, bool], tuple[EventRecord, PayloadValidator]] = {}

    def discover_events(
        self, topic: EventTopic | str | None = None, pattern: str | None = None
    ) -> Sequence[EventRecord]:
        """Registered events, optionally on one topic and matching a glob (`order.*`), by name."""
        return self.registry.catalog().find_events(topic=topic, pattern=pattern)

    def discover_actionable_events(
        self, topic: EventTopic | str = EventTopic.ACTION_REQUESTS
    ) -> Sequence[EventRecord]:
        """Events on `topic` that at least one registered agent consumes (asking gets an answer)."""
        catalog = self.registry.catalog()
        return [e for e in catalog.find_events(topic=topic) if catalog.consumers_of(e.name)]

    def get_event_info(self, name: str) -> EventRecord | None:
        """One event's record (topic, description, schemas, metadata), or None."""
        return self.registry.get_event(name)

    @overload
    def format_for_llm(
        self,
        events: Sequence[EventRecord],
        form: Literal["text"] = "text",
        *,
        max_tools: int | None = None,
    ) -> str: ...

    @overload
    def format_for_llm(
        self, events: Sequence[EventRecord], form: ToolFlavor, *, max_tools: int | None = None
    ) -> list[dict[str, Any]]: ...

    def format_for_llm(
        self,
        events: Sequence[EventRecord],
        form: Literal["text"] | ToolFlavor = "text",
        *,
        max_tools: int | None = None,
    ) -> str | list[dict[str, Any]]:
        """`text`: a compact, deterministic description; `openai` / `bedrock`: tool specs, at
        most `max_tools` of them (default: 128 OpenAI tools, `llm.MAX_TOOLS`; Bedrock tools
        unbounded); `TooManyToolsError` beyond: narrow the events first."""
        if form == "text":
            return describe_events(events)
        return tool_specs(events, form, max_tools=max_tools)

    def create_payload(self, event_name: str, data: Any) -> Any:
        """`data` checked against the event's payload schema (defaults filled in); raises
        `SchemaValidationError` naming the field, or `UnknownEventError`."""
        return self._validator(self._record(event_name), response=False).check(event_name, data)

    def validate_response(self, event_name: str, data: Any) -> Any:
        """`data` checked against the event's response schema (what a reply must carry)."""
        return self._validator(self._record(event_name), response=True).check(event_name, data)

    def _validator(self, record: EventRecord, *, response: bool) -> PayloadValidator:
        """One validator per (event, schema): rebuilt only when the registered record changed."""
        key = (record.name, response)
        cached = self._validators.get(key)
        if cached is None or (cached[0] is not record and cached[0] != record):
            validator = PayloadValidator(
                lookup=lambda _: record, response=response, cache_seconds=math.inf
            )
            cached = self._validators[key] = (record, validator)
        return cached[1]

    def _record(self, event_name: str) -> EventRecord:
        record = self.registry.get_event(event_name)
        if record is None:
            known = ", ".join(e.name for e in self.registry.all_events()) or "none"
            raise UnknownEventError(
                f"event {event_name!r} is not in the registry (registered: {known}); "
                "declare it with an EventDefinition or register it"
            )
        return record
