"""`sync_registry`: make the registry table say what the manifests declare.

Called by the registry-sync custom resource at deploy (`functions/registry_sync`) and by the
local cloud at start. It upserts every declared event and agent (origin `deploy`), deletes the
`deploy` entries that are no longer declared, and never touches entries registered at run time
(origin `runtime`) unless the manifests now declare the same name (then the deploy takes it
over, subject to the compatibility check). Every check runs before the first write, so a failed
sync leaves the table as it was: each declared schema must be a valid JSON Schema
(`InvalidSchemaError`), each action request's name must make a tool name of at most 64
characters (`ToolNameError`), each change must be compatible (`IncompatibleSchemaError`), and
each entry must fit in DynamoDB's 400 KB item (`RegistryEntryTooLargeError`; the schemas a change
replaces are kept for a rollback only while they fit too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from soorma.registry.compatibility import IncompatibleSchemaError, incompatibilities
from soorma.registry.entries import AgentRecord, Catalog, EventRecord, Origin
from soorma.registry.llm import ToolNameError, check_tool_name
from soorma.registry.schemas import InvalidSchemaError, check_event_schemas
from soorma.registry.table import RegistryTable, check_entry_size, fitted
from soorma_common.errors import RegistryEntryTooLargeError
from soorma_common.manifest import AgentManifest


@dataclass
class SyncReport:
    """What a sync changed, by entry (`event:<name>` / `agent:<name>`), each list sorted."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    spared: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """Counts per outcome (small enough for a CloudFormation response's `Data`)."""
        return {
            "Created": len(self.created),
            "Updated": len(self.updated),
            "Unchanged": len(self.unchanged),
            "Deleted": len(self.deleted),
            "Spared": len(self.spared),
        }


def sync_registry(
    table: str | RegistryTable,
    manifests: Sequence[AgentManifest],
    old_manifests: Sequence[AgentManifest] | None = None,
    *,
    dynamodb: Any = None,
) -> SyncReport:
    """Upsert what `manifests` declare, delete `deploy` entries no longer declared.

    `old_manifests` (CloudFormation's `OldResourceProperties`) is the baseline for the
    compatibility check of an event that the table has lost; the table's entry is the baseline
    otherwise. Pass `manifests=[]` to remove every deployed entry (a stack delete). Raises
    `InvalidSchemaError` naming each event whose schema is not a valid JSON Schema,
    `ToolNameError` naming each action request whose name makes no tool name,
    `IncompatibleSchemaError` naming each event and change, and `RegistryEntryTooLargeError`
    naming each entry over 400 KB; whichever it is, nothing is written.
    """
    registry = (
        table if isinstance(table, RegistryTable) else RegistryTable(table, dynamodb=dynamodb)
    )
    desired = Catalog.from_manifests(manifests, Origin.DEPLOY)
    baseline = Catalog.from_manifests(old_manifests or (), Origin.DEPLOY)
    current = registry.catalog()

    malformed: list[str] = []
    for name, record in sorted(desired.events.items()):
        try:
            check_event_schemas(name, record.payload_schema, record.response_schema)
        except InvalidSchemaError as exc:
            malformed.append(str(exc))
    if malformed:
        raise InvalidSchemaError("the registry refuses the new manifests: " + "; ".join(malformed))

    nameless: list[str] = []
    for _, record in sorted(desired.events.items()):
        try:
            check_tool_name(record)
        except ToolNameError as exc:
            nameless.append(str(exc))
    if nameless:
        raise ToolNameError("the registry refuses the new manifests: " + "; ".join(nameless))

    problems: list[str] = []
    for name, record in sorted(desired.events.items()):
        registered = current.events.get(name) or baseline.events.get(name)
        if registered is not None:
            problems += incompatibilities(registered, record)
    if problems:
        raise IncompatibleSchemaError(
            "the registry refuses the new manifests: " + "; ".join(dict.fromkeys(problems))
        )

    planned = {
        name: fitted(_with_history(event, current.events.get(name)))
        for name, event in sorted(desired.events.items())
    }
    oversized: list[str] = []
    entries: list[EventRecord | AgentRecord] = [*planned.values()]
    entries += [agent for _, agent in sorted(desired.agents.items())]
    for entry in entries:
        try:
            check_entry_size(entry)
        except RegistryEntryTooLargeError as exc:
            oversized.append(str(exc))
    if oversized:
        raise RegistryEntryTooLargeError(
            "the registry refuses the new manifests: " + "; ".join(oversized)
        )

    report = SyncReport()
    for name, event in planned.items():
        _upsert(registry, f"event:{name}", event, current.events.get(name), report)
    for name, agent in sorted(desired.agents.items()):
        _upsert(registry, f"agent:{name}", agent, current.agents.get(name), report)

    stale: list[EventRecord | AgentRecord] = [
        *(e for n, e in current.events.items() if n not in desired.events),
        *(a for n, a in current.agents.items() if n not in desired.agents),
    ]
    for entry in sorted(stale, key=_label):
        if entry.origin is Origin.RUNTIME:
            report.spared.append(_label(entry))
        else:
            registry.delete(entry)
            report.deleted.append(_label(entry))
    return report


def _with_history(new: EventRecord, old: EventRecord | None) -> EventRecord:
    """Keep the schemas a change replaces, so that a rollback may restore them."""
    if old is None:
        return new
    unchanged = (old.payload_schema, old.response_schema) == (
        new.payload_schema,
        new.response_schema,
    )
    return new.model_copy(
        update={
            "history_dropped": old.history_dropped and unchanged,
            "previous_payload_schema": old.previous_payload_schema
            if old.payload_schema == new.payload_schema
            else old.payload_schema,
            "previous_response_schema": old.previous_response_schema
            if old.response_schema == new.response_schema
            else old.response_schema,
        }
    )


def _upsert(
    registry: RegistryTable,
    label: str,
    record: EventRecord | AgentRecord,
    existing: EventRecord | AgentRecord | None,
    report: SyncReport,
) -> None:
    if existing is None:
        report.created.append(label)
    elif existing == record:
        report.unchanged.append(label)
        return
    else:
        report.updated.append(label)
    registry.put(record)


def _label(record: EventRecord | AgentRecord) -> str:
    return f"{'event' if isinstance(record, EventRecord) else 'agent'}:{record.name}"
