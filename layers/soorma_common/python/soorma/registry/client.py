"""`RegistryClient`: the registry as a handler (or a script) sees it: read, discover, register."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from soorma.config import settings
from soorma.registry.compatibility import check_compatible
from soorma.registry.entries import AgentRecord, Catalog, EventRecord, Origin
from soorma.registry.table import RegistryTable
from soorma_common.definitions import EventDefinition
from soorma_common.errors import VersionConflictError
from soorma_common.manifest import AgentManifest
from soorma_common.topics import EventTopic

#: How long a client trusts its copy of the registry before reading the table again
#: (`from_env` reads `SOORMA_REGISTRY_CACHE_SECONDS`).
DEFAULT_CACHE_SECONDS = 60.0
#: Conditional writes `register_event` tries before giving up on a contended entry.
REGISTER_ATTEMPTS = 5


class RegistryNotConfiguredError(RuntimeError):
    """No registry table: set `SOORMA_REGISTRY_TABLE` (the stack and the local cloud do)."""


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

        Raises `IncompatibleSchemaError` when it would change a registered schema incompatibly.
        The write is conditional on the entry being unchanged since it was checked: when another
        writer got there first, the check runs again against what that writer wrote
        (`VersionConflictError` after `REGISTER_ATTEMPTS` lost races).
        """
        declared = EventRecord.from_definition(definition, Origin.RUNTIME)
        for _ in range(REGISTER_ATTEMPTS):
            registered, revision = self.table.get_event_for_update(declared.name)
            record = declared
            if registered is not None:
                check_compatible(registered, declared)
                if registered.origin is Origin.DEPLOY and registered.same_contract(declared):
                    return registered  # already deployed as declared: keep it owned by the deploy
                record = declared.model_copy(
                    update={
                        "previous_payload_schema": registered.payload_schema,
                        "previous_response_schema": registered.response_schema,
                    }
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
        """Register an agent (an `AgentManifest` or an `Agent`) and its event definitions."""
        manifest = agent if isinstance(agent, AgentManifest) else agent.manifest()
        for definition in [*manifest.events_consumed, *manifest.events_produced]:
            self.register_event(definition)
        record = AgentRecord.from_manifest(manifest, Origin.RUNTIME)
        self.table.put(record)
        self.refresh()
        return record


_SHARED: dict[str, RegistryClient] = {}


def reset_shared_clients() -> None:
    """Forget the process-wide clients (tests that change `SOORMA_REGISTRY_TABLE`)."""
    _SHARED.clear()
