"""The registry: event contracts registered at deploy, discovered at run time, enforced on the wire.

- `RegistryClient` (`context.registry`): events and agents; run-time registration.
- `EventToolkit` (`context.toolkit`): discovery, LLM descriptions and tool specs, payload checks.
- `sync_registry(table, manifests, old_manifests=None)`: the deploy-time sync (custom resource,
  local cloud).
- `validation.validator_for_agent(agent)`: the runtime's schema check on publish and consume.
- `check_definition(definition)` / `InvalidSchemaError`: is a schema a valid JSON Schema
  (`schemas`); `schema_changes` / `CompatibilityRule`: is a change compatible (`compatibility`).

See docs/registry.md.
"""

from soorma.registry.client import RegistryClient, RegistryNotConfiguredError
from soorma.registry.compatibility import (
    CompatibilityRule,
    IncompatibleSchemaError,
    schema_changes,
)
from soorma.registry.entries import AgentRecord, Catalog, EventRecord, Origin
from soorma.registry.schemas import InvalidSchemaError, check_definition
from soorma.registry.sync import SyncReport, sync_registry
from soorma.registry.toolkit import EventToolkit, UnknownEventError

__all__ = [
    "AgentRecord",
    "Catalog",
    "CompatibilityRule",
    "EventRecord",
    "EventToolkit",
    "IncompatibleSchemaError",
    "InvalidSchemaError",
    "Origin",
    "RegistryClient",
    "RegistryNotConfiguredError",
    "SyncReport",
    "UnknownEventError",
    "check_definition",
    "schema_changes",
    "sync_registry",
]
