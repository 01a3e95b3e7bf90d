"""`EventToolkit` for agents that reason: discovery as the design documents write it.

```python
from soorma.ai.event_toolkit import EventToolkit

async with EventToolkit(context.registry) as toolkit:
    events = await toolkit.discover_actionable_events(topic="action-requests")
    for event in events:
        print(event["name"], event.metadata.get("when_to_use"))
```

It is the registry's `soorma.registry.toolkit.EventToolkit` (discovery, descriptions, payload
checks) with what a planner needs on top: `async with` / `with`, discovery results that can be
awaited or used as they are, events readable as records (`event.name`) and as mappings
(`event["name"]`, `"metadata" in event`), capability filtering (to keep prompts small), and the
registered events as `ToolSpec`s with the way back from a tool name to its event.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from types import TracebackType
from typing import Any, Self

from soorma.ai.providers import ToolSpec
from soorma.registry.client import RegistryClient
from soorma.registry.entries import EventRecord
from soorma.registry.llm import event_name_of_tool, tool_specs
from soorma.registry.toolkit import EventToolkit as RegistryToolkit
from soorma_common.topics import EventTopic


class DiscoveredEvent(EventRecord):
    """A registered event as discovery returns it: an `EventRecord` that also reads as a mapping
    (`event["name"]`, `event.get("metadata")`, `"metadata" in event`), as the design documents
    use it. `"metadata" in event` is true only when the event carries metadata."""

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in type(self).model_fields and bool(getattr(self, key))

    def get(self, key: str, default: Any = None) -> Any:
        """The field `key`, or `default` when the event has no such field or it is empty."""
        return getattr(self, key) if key in self else default

    def keys(self) -> list[str]:
        """The names of the fields this event carries (non-empty)."""
        return [name for name in type(self).model_fields if name in self]

    @classmethod
    def of(cls, record: EventRecord) -> DiscoveredEvent:
        """The same record, readable as a mapping."""
        if isinstance(record, cls):
            return record
        return cls.model_construct(**dict(record))


class DiscoveredEvents(list[DiscoveredEvent]):
    """A list of discovered events that may also be awaited (it resolves to itself), so that
    `await toolkit.discover_actionable_events()` and the plain call both work."""

    def __await__(self) -> Generator[Any, None, DiscoveredEvents]:
        return self
        yield  # pragma: no cover - makes this a generator

    @property
    def names(self) -> list[str]:
        """The event names, in order."""
        return [event.name for event in self]


class EventToolkit(RegistryToolkit):
    """Discovery for planners and language models (see the module docstring).

    `registry` is a `RegistryClient`, a registry table name, or None for the process-wide
    client of `SOORMA_REGISTRY_TABLE` (what `context.registry` is).
    """

    def __init__(self, registry: RegistryClient | str | None = None) -> None:
        if registry is None:
            registry = RegistryClient.from_env()
        elif isinstance(registry, str):
            registry = RegistryClient(registry)
        super().__init__(registry)

    # ---- used as the documents use it --------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Nothing to close: the registry client is shared by the process."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Nothing to close: the registry client is shared by the process."""

    # ---- discovery ---------------------------------------------------------------------------

    def discover_events(
        self, topic: EventTopic | str | None = None, pattern: str | None = None
    ) -> DiscoveredEvents:
        """Registered events, optionally on one topic and matching a glob, by name."""
        return _discovered(super().discover_events(topic=topic, pattern=pattern))

    def discover_actionable_events(
        self,
        topic: EventTopic | str = EventTopic.ACTION_REQUESTS,
        *,
        capabilities: Iterable[str] | None = None,
        pattern: str | None = None,
    ) -> DiscoveredEvents:
        """Events on `topic` that at least one registered agent consumes, by name.

        `capabilities` keeps only events consumed by an agent with one of those capabilities;
        `pattern` (a glob such as `research.*`) only events whose name matches. Both keep a
        planner's prompt bounded however many events the registry holds.
        """
        catalog = self.registry.catalog()
        wanted = None if capabilities is None else frozenset(capabilities)
        found = []
        for event in catalog.find_events(topic=topic, pattern=pattern):
            consumers = catalog.consumers_of(event.name)
            if not consumers:
                continue
            if wanted is not None and not any(
                wanted & set(agent.capabilities) for agent in _agents(catalog.agents, consumers)
            ):
                continue
            found.append(event)
        return _discovered(found)

    # ---- tools -------------------------------------------------------------------------------

    def tool_specs(self, events: Iterable[EventRecord]) -> tuple[ToolSpec, ...]:
        """One `ToolSpec` per event (the registry's Bedrock tool specs), sorted by event name."""
        return tuple(ToolSpec.from_converse(spec) for spec in tool_specs(events, "bedrock"))

    def event_of_tool(self, tool: str, events: Iterable[EventRecord]) -> EventRecord | None:
        """The event among `events` that the tool name `tool` stands for, or None."""
        listed = list(events)
        name = event_name_of_tool(tool, listed)
        return next((event for event in listed if event.name == name), None)


def _discovered(records: Iterable[EventRecord]) -> DiscoveredEvents:
    return DiscoveredEvents(DiscoveredEvent.of(record) for record in records)


def _agents(agents: dict[str, Any], names: Iterable[str]) -> Iterator[Any]:
    for name in names:
        agent = agents.get(name)
        if agent is not None:
            yield agent
