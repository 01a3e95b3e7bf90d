"""`RegistryClient`: the registry as a handler (or a script) sees it: read, discover, register."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from soorma.config import settings
from soorma.registry.compatibility import check_compatible
from soorma.registry.entries import AgentRecord, Catalog, EventRecord, Origin
from soorma.registry.llm import check_tool_name
from soorma.registry.schemas import check_event_schemas
from soorma.registry.table import RegistryTable, check_entry_size, fitted
from soorma_common.definitions import EventDefinition
from soorma_common.errors import RegistryNotConfiguredError, VersionConflictError
from soorma_common.manifest import AgentManifest
from soorma_common.topics import EventTopic

#: How long a client trusts its copy of the registry before reading the table again
#: (`from_env` reads `SOORMA_REGISTRY_CACHE_SECONDS`).
DEFAULT_CACHE_SECONDS = 60.0
#: Conditional writes `register_event` tries before giving up on a contended entry.
REGISTER_ATTEMPTS = 5

__all__ = [
    "DEFAULT_CACHE_SECONDS",
    "REGISTER_ATTEMPTS",
    "RegistryClient",
    "RegistryNotConfiguredError",  # defined in soorma_common.errors (permanent), kept importable
    "reset_shared_clients",
]


class RegistryClient:
    """Events and agents of one registry table.

    Reads come from a copy of the whole table (one Scan; the registry holds hundreds of items,
    not millions), kept for `cache_seconds`; `refresh()` drops it. `register_event` and
    `register_agent` write entries of origin `runtime`, which the deploy-time sync never deletes.
    """

    def __init__(
        self,
        table: str | RegistryTable,
        *,
        dynamodb: Any = None,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = (
            table if isinstance(table, RegistryTable) else RegistryTable(table, dynamodb=dynamodb)
        )
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._catalog: Catalog | None = None
        self._loaded_at = 0.0

    @classmethod
    def from_env(cls) -> RegistryClient:
        """The client of `SOORMA_REGISTRY_TABLE`, shared by the whole process (one cold start);
        what a handler gets as `context.registry`."""
        table = settings().registry_table
        if not table:
            raise RegistryNotConfiguredError(
                "no registry table: set SOORMA_REGISTRY_TABLE (the CDK stack and `soorma dev` "
                "set it for every agent function)"
            )
        shared = _SHARED.get(table)
        if shared is None:
            shared = _SHARED[table] = cls(table, cache_seconds=settings().registry_cache_seconds)
        return shared

    # ---- reading --------------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """Every event and agent (cached copy)."""
        now = self._clock()
        if self._catalog is None or now - self._loaded_at > self.cache_seconds:
            self._catalog = self.table.catalog()
            self._loaded_at = now
        return self._catalog

    def refresh(self) -> None:
        """Forget the cached copy: the next read scans the table again."""
        self._catalog = None

    def get_event(self, name: str) -> EventRecord | None:
        """One event by name, or None."""
        return self.catalog().events.get(name)

    def all_events(self) -> list[EventRecord]:
        """Every registered event, sorted by name."""
        return self.catalog().find_events()

    def events_by_topic(self, topic: EventTopic | str) -> list[EventRecord]:
        """The events registered on `topic`, sorted by name."""
        return self.catalog().find_events(topic=topic)

    def get_agent(self, name: str) -> AgentRecord | None:
        """One agent by name, or None."""
        return self.catalog().agents.get(name)

    def all_agents(self) -> list[AgentRecord]:
        """Every registered agent, sorted by name."""
        return [a for _, a in sorted(self.catalog().agents.items())]

    def consumers_of(self, event_name: str) -> list[str]:
        """Names of the agents that consume `event_name`."""
        return self.catalog().consumers_of(event_name)

    def producers_of(self, event_name: str) -> list[str]:
        """Names of the agents that may publish `event_name`."""
        return self.catalog().producers_of(event_name)

    # ---- registering at run time ----------------------------------------------------------

    def register_event(self, definition: EventDefinition) -> EventRecord:
        """Register (or re-register) an event at run time, for agents deployed outside the stack.

        Refused before any write (permanent errors): a schema that is not a valid JSON Schema
        (`InvalidSchemaError`), an action request whose name makes no tool name
        (`ToolNameError`, 64 characters), an entry over DynamoDB's 400 KB
        (`RegistryEntryTooLargeError`), and a change that would break the registered schema
        (`IncompatibleSchemaError`). Registering the registered contract again writes nothing.
        A change keeps the replaced schemas (for a rollback) only while the entry still fits in
        400 KB. The write is conditional on the entry being unchanged since it was checked: when
        another writer got there first, the check runs again against what that writer wrote
        (`VersionConflictError` after `REGISTER_ATTEMPTS` lost races).
        """
        declared = self._checked(definition)
        for _ in range(REGISTER_ATTEMPTS):
            registered, revision = self.table.get_event_for_update(declared.name)
            record = declared
            if registered is not None:
                check_compatible(registered, declared)
                if registered.same_contract(declared):
                    return registered  # nothing to change (and a deployed entry stays deployed)
                record = fitted(
                    declared.model_copy(
                        update={
                            "previous_payload_schema": registered.payload_schema,
                            "previous_response_schema": registered.response_schema,
                        }
                    )
                )
            try:
                self.table.put(record, expected=revision)
            except VersionConflictError:
                continue
            self.refresh()
            return record
        raise VersionConflictError(
            f"event {declared.name!r}: {REGISTER_ATTEMPTS} concurrent registrations won the race; "
            "try again"
        )

    def register_agent(self, agent: AgentManifest | Any) -> AgentRecord:
        """Register an agent (an `AgentManifest` or an `Agent`) and its event definitions.

        Every definition is checked (schema, tool name, size, compatibility with the table)
        before the first write, so a refused agent leaves no event of its own behind; raises
        the first refusal (see `register_event`).
        """
        manifest = agent if isinstance(agent, AgentManifest) else agent.manifest()
        definitions = [*manifest.events_consumed, *manifest.events_produced]
        for definition in definitions:
            declared = self._checked(definition)
            registered = self.table.get_event(declared.name)
            if registered is not None:
                check_compatible(registered, declared)
        record = AgentRecord.from_manifest(manifest, Origin.RUNTIME)
        check_entry_size(record)
        for definition in definitions:
            self.register_event(definition)
        self.table.put(record)
        self.refresh()
        return record

    @staticmethod
    def _checked(definition: EventDefinition) -> EventRecord:
        """The runtime record of `definition`, after the checks that need no table read."""
        declared = EventRecord.from_definition(definition, Origin.RUNTIME)
        check_event_schemas(declared.name, declared.payload_schema, declared.response_schema)
        check_tool_name(declared)
        check_entry_size(declared)
        return declared


_SHARED: dict[str, RegistryClient] = {}


def reset_shared_clients() -> None:
    """Forget the process-wide clients (tests that change `SOORMA_REGISTRY_TABLE`)."""
    _SHARED.clear()
