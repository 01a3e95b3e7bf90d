"""The registry's entries: `EventRecord`, `AgentRecord`, and a `Catalog` of both.

One layout for every reader and writer (the deploy-time sync, the run-time client, the CLI):

| item | pk | sk | attributes |
|---|---|---|---|
| an event | `EVENT#<name>` | `EVENT` | `kind`, `name`, `topic`, `origin`, `record` (JSON) |
| an agent | `AGENT#<name>` | `AGENT` | `kind`, `name`, `origin`, `record` |

The whole record is one JSON string attribute so that JSON Schemas survive DynamoDB unchanged
(no `Decimal` numbers, no empty-set rules). `origin` is `deploy` for entries written by the
registry sync from the manifests and `runtime` for entries registered by `RegistryClient`; the
sync never deletes `runtime` entries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from soorma_common.definitions import EventDefinition, JsonSchema
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.routing import WILDCARD
from soorma_common.topics import EventTopic

EVENT_PREFIX = "EVENT#"
AGENT_PREFIX = "AGENT#"
_VERSION_SUFFIX = re.compile(r"\.v(\d+)$")


class Origin(StrEnum):
    """Who wrote a registry entry."""

    DEPLOY = "deploy"
    """The registry sync, from the manifests (removed when the manifests no longer declare it)."""
    RUNTIME = "runtime"
    """`RegistryClient.register_*` at run time (never removed by the sync)."""


def version_of(event_name: str) -> int:
    """The version an event name carries (`order.placed.v2` -> 2); 1 when it carries none."""
    found = _VERSION_SUFFIX.search(event_name)
    return int(found.group(1)) if found else 1


#: The validators are built on first use, not when the SDK is imported (the context imports the
#: registry client on every cold start; most agents never read the registry).
_RECORD_CONFIG = ConfigDict(frozen=True, defer_build=True)


class EventRecord(BaseModel):
    """An event as the registry knows it."""

    model_config = _RECORD_CONFIG

    name: str
    topic: EventTopic
    description: str = ""
    payload_schema: JsonSchema | None = None
    response_schema: JsonSchema | None = None
    version: int = 1
    metadata: dict[str, Any] = Field(default_factory=dict)
    origin: Origin = Origin.DEPLOY
    previous_payload_schema: JsonSchema | None = Field(
        default=None, description="the payload schema before the last change (allows a rollback)"
    )
    previous_response_schema: JsonSchema | None = None
    history_dropped: bool = Field(
        default=False,
        description="the schemas before the last change were not kept: with them the entry "
        "would have been over DynamoDB's 400 KB item limit",
    )

    @classmethod
    def from_definition(
        cls, definition: EventDefinition, origin: Origin = Origin.DEPLOY
    ) -> EventRecord:
        """The record of an `EventDefinition`."""
        return cls(
            name=definition.event_name,
            topic=definition.topic,
            description=definition.description,
            payload_schema=definition.payload_schema,
            response_schema=definition.response_schema,
            version=version_of(definition.event_name),
            metadata=dict(definition.metadata),
            origin=origin,
        )

    def same_contract(self, other: EventRecord) -> bool:
        """Whether both records declare the same topic, description, schemas and metadata."""
        keys = {"topic", "description", "payload_schema", "response_schema", "metadata"}
        return self.model_dump(include=keys) == other.model_dump(include=keys)


class AgentRecord(BaseModel):
    """An agent as the registry knows it: what it consumes and produces."""

    model_config = _RECORD_CONFIG

    name: str
    kind: AgentKind
    description: str = ""
    capabilities: list[str] = Field(default_factory=list)
    subscriptions: list[Subscription] = Field(default_factory=list)
    consumed: list[str] = Field(default_factory=list, description="event names it consumes")
    produced: list[str] = Field(default_factory=list, description="event names it may publish")
    origin: Origin = Origin.DEPLOY

    @classmethod
    def from_manifest(cls, manifest: AgentManifest, origin: Origin = Origin.DEPLOY) -> AgentRecord:
        """The record of an agent manifest."""
        consumed = {d.event_name for d in manifest.events_consumed}
        consumed |= {
            s.event_type
            for s in manifest.subscriptions
            if not s.replies and s.event_type != WILDCARD and not s.event_type.endswith(".*")
        }
        produced = set(manifest.produced_event_names or ())
        produced |= {d.event_name for d in manifest.events_produced}
        return cls(
            name=manifest.name,
            kind=manifest.kind,
            description=manifest.description,
            capabilities=list(manifest.capabilities),
            subscriptions=list(manifest.subscriptions),
            consumed=sorted(consumed),
            produced=sorted(produced),
            origin=origin,
        )

    def consumes(self, event_name: str, topic: EventTopic | None) -> bool:
        """Whether this agent consumes `event_name` on `topic`: a subscription (exact, prefix or
        `*`) delivers it, or the agent declares it in `events_consumed` and subscribes to that
        name on no other topic."""
        exact_elsewhere = False
        for sub in self.subscriptions:
            if sub.replies:
                continue
            pattern = sub.event_type
            if topic is None or sub.topic != topic:
                exact_elsewhere = exact_elsewhere or pattern == event_name
                continue  # a pattern says nothing about an event whose topic is unknown
            if pattern in (WILDCARD, event_name):
                return True
            if pattern.endswith(".*") and event_name.startswith(pattern[:-1]):
                return True
        return event_name in self.consumed and not exact_elsewhere


class ConflictingDefinitionError(ValueError):
    """Two manifests define the same event name with different contracts."""


class Catalog(BaseModel):
    """Events and agents, indexed by name: what `soorma events`, graphs and discovery read."""

    model_config = ConfigDict(defer_build=True)

    events: dict[str, EventRecord] = Field(default_factory=dict)
    agents: dict[str, AgentRecord] = Field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[EventRecord | AgentRecord]) -> Catalog:
        """A catalog of records (events and agents mixed)."""
        catalog = cls()
        for record in records:
            if isinstance(record, EventRecord):
                catalog.events[record.name] = record
            else:
                catalog.agents[record.name] = record
        return catalog

    @classmethod
    def from_manifests(
        cls, manifests: Iterable[AgentManifest], origin: Origin = Origin.DEPLOY
    ) -> Catalog:
        """What the manifests declare. Raises `ConflictingDefinitionError` when two agents define
        one event name with different topics, schemas, descriptions or metadata."""
        catalog = cls()
        for manifest in manifests:
            catalog.agents[manifest.name] = AgentRecord.from_manifest(manifest, origin)
            for definition in [*manifest.events_consumed, *manifest.events_produced]:
                record = EventRecord.from_definition(definition, origin)
                known = catalog.events.get(record.name)
                if known is not None and not known.same_contract(record):
                    raise ConflictingDefinitionError(
                        f"event {record.name!r} is defined twice with different contracts "
                        f"(again by agent {manifest.name!r}): define it once, in a module "
                        "both agents import"
                    )
                catalog.events[record.name] = record
        return catalog

    def event_names(self) -> list[str]:
        """Every event name the catalog mentions (registered, consumed or produced), sorted."""
        names = set(self.events)
        for agent in self.agents.values():
            names |= set(agent.consumed) | set(agent.produced)
        return sorted(names)

    def topic_of(self, event_name: str) -> EventTopic | None:
        """The event's topic: registered, else the topic of an exact subscription to it."""
        record = self.events.get(event_name)
        if record is not None:
            return record.topic
        for agent in sorted(self.agents.values(), key=lambda a: a.name):
            for sub in agent.subscriptions:
                if sub.event_type == event_name:
                    return sub.topic
        return None

    def producers_of(self, event_name: str) -> list[str]:
        """Names of agents that may publish `event_name`, sorted."""
        return sorted(a.name for a in self.agents.values() if event_name in a.produced)

    def consumers_of(self, event_name: str) -> list[str]:
        """Names of agents that consume `event_name`, sorted."""
        topic = self.topic_of(event_name)
        return sorted(a.name for a in self.agents.values() if a.consumes(event_name, topic))

    def find_events(
        self, topic: EventTopic | str | None = None, pattern: str | None = None
    ) -> list[EventRecord]:
        """Registered events on `topic` whose names match the glob `pattern` (`order.*`), sorted."""
        wanted = None if topic is None else EventTopic.parse(topic)
        return [
            record
            for name, record in sorted(self.events.items())
            if (wanted is None or record.topic == wanted)
            and (pattern is None or fnmatchcase(name, pattern))
        ]


# ---- DynamoDB items -----------------------------------------------------------------------


def event_key(name: str) -> dict[str, str]:
    """The (pk, sk) of an event item."""
    return {"pk": f"{EVENT_PREFIX}{name}", "sk": "EVENT"}


def agent_key(name: str) -> dict[str, str]:
    """The (pk, sk) of an agent item."""
    return {"pk": f"{AGENT_PREFIX}{name}", "sk": "AGENT"}


def to_item(record: EventRecord | AgentRecord, updated_at: str) -> dict[str, Any]:
    """The DynamoDB item (plain Python values) of a record."""
    body = record.model_dump_json(exclude_none=False)
    if isinstance(record, EventRecord):
        return {
            **event_key(record.name),
            "kind": "event",
            "name": record.name,
            "topic": record.topic.value,
            "origin": record.origin.value,
            "record": body,
            "updated_at": updated_at,
        }
    return {
        **agent_key(record.name),
        "kind": "agent",
        "name": record.name,
        "origin": record.origin.value,
        "record": body,
        "updated_at": updated_at,
    }


def from_item(item: dict[str, Any]) -> EventRecord | AgentRecord | None:
    """The record in a DynamoDB item (plain Python values), or None for an unknown item."""
    pk = str(item.get("pk", ""))
    body = json.loads(str(item["record"])) if "record" in item else None
    if body is None:
        return None
    if pk.startswith(EVENT_PREFIX):
        return EventRecord.model_validate(body)
    if pk.startswith(AGENT_PREFIX):
        return AgentRecord.model_validate(body)
    return None
