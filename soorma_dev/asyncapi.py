"""The event bus as an AsyncAPI 3.0 document: channels = topics, messages = events.

Each message's payload is the CloudEvents envelope (wire names, `docs/wire-format.md`) whose
`type` and `topic` are fixed and whose `data` is the event's registered JSON Schema. Local
`$defs` of pydantic schemas move to `components/schemas` (named `<event>.<Def>`), because a `$ref`
inside an AsyncAPI document resolves against the whole document. Operations are the agents':
`<agent>.send.<topic>` for what an agent publishes, `<agent>.receive.<topic>` for what it consumes.
"""

from __future__ import annotations

import copy
from typing import Any

from soorma.registry import Catalog, EventRecord
from soorma_common.envelope import EXTENSION_WIRE_NAMES, REQUIRED_WIRE_ATTRIBUTES
from soorma_common.topics import EventTopic

ASYNCAPI_VERSION = "3.0.0"
ENVELOPE_SCHEMA = "SoormaEnvelope"

TOPIC_DESCRIPTIONS: dict[EventTopic, str] = {
    EventTopic.ACTION_REQUESTS: "Work asked of an agent; requests name their response_event.",
    EventTopic.ACTION_RESULTS: "Replies to requests, addressed to the requester (replyto).",
    EventTopic.BUSINESS_FACTS: "Domain facts in the past tense; no reply expected.",
    EventTopic.NOTIFICATION_EVENTS: "Notifications and requests for human input.",
    EventTopic.BILLING_EVENTS: "Usage and cost units, e.g. LLM tokens per action.",
    EventTopic.PLAN_EVENTS: "Plan lifecycle events.",
    EventTopic.TASK_EVENTS: "Task lifecycle events.",
    EventTopic.SYSTEM_EVENTS: "The platform about itself: dead letters, circuit breakers.",
}

_STRING = {"type": "string"}
#: Extensions whose wire value is not a string (CloudEvents allows integer and boolean ones).
_TYPED_EXTENSIONS: dict[str, dict[str, Any]] = {
    "hopcount": {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**31 - 1,
        "description": "causation depth: how many handled events led to this one",
    },
}


def envelope_schema() -> dict[str, Any]:
    """The wire envelope (CloudEvents 1.0 structured JSON plus Soorma's extensions, named as
    `soorma_common.envelope` puts them on the wire)."""
    extensions = [wire for wire in EXTENSION_WIRE_NAMES.values() if wire != "topic"]
    return {
        "type": "object",
        "required": list(REQUIRED_WIRE_ATTRIBUTES),
        "properties": {
            "id": _STRING,
            "source": {"type": "string", "description": "soorma.<agent>"},
            "specversion": {"type": "string", "const": "1.0"},
            "type": {"type": "string", "description": "the event name"},
            "time": {"type": "string", "format": "date-time"},
            "subject": _STRING,
            "datacontenttype": _STRING,
            "dataschema": _STRING,
            "topic": {"type": "string", "enum": [t.value for t in EventTopic]},
            **{name: _TYPED_EXTENSIONS.get(name, _STRING) for name in extensions},
            "data": {"description": "the event's payload"},
        },
    }


def asyncapi_document(
    catalog: Catalog, *, title: str = "Soorma event bus", version: str = "1.0.0"
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the catalog's events, topics and agents."""
    schemas: dict[str, Any] = {ENVELOPE_SCHEMA: envelope_schema()}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for name in catalog.event_names():
        topic = catalog.topic_of(name)
        if topic is None:
            continue  # produced by name only, topic unknown: nothing to place it on
        record = catalog.events.get(name) or EventRecord(name=name, topic=topic)
        messages[name] = _message(record, schemas)
        channel = channels.setdefault(
            topic.value,
            {
                "address": topic.value,
                "title": topic.value,
                "description": TOPIC_DESCRIPTIONS[topic],
                "messages": {},
            },
        )
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
    channels = dict(sorted(channels.items()))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Events on the Soorma EventBridge bus: one channel per topic.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": _operations(catalog, channels),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": dict(sorted(messages.items())),
        },
    }


def _message(record: EventRecord, schemas: dict[str, Any]) -> dict[str, Any]:
    data_ref: dict[str, Any] = {}
    if record.payload_schema:
        key = f"{record.name}.payload"
        schemas[key] = _lift_defs(record.payload_schema, f"{record.name}.", schemas)
        data_ref = {"$ref": f"#/components/schemas/{key}"}
    message: dict[str, Any] = {
        "name": record.name,
        "title": record.name,
        "contentType": "application/json",
        "correlationId": {"location": "$message.payload#/correlationid"},
        "payload": {
            "allOf": [
                {"$ref": f"#/components/schemas/{ENVELOPE_SCHEMA}"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": record.name},
                        "topic": {"const": record.topic.value},
                        "data": data_ref,
                    },
                },
            ]
        },
    }
    if record.description:
        message["summary"] = record.description
    if record.response_schema:
        key = f"{record.name}.response"
        schemas[key] = _lift_defs(record.response_schema, f"{record.name}.response.", schemas)
        message["x-soorma-response"] = {"$ref": f"#/components/schemas/{key}"}
    if record.metadata:
        message["x-soorma-metadata"] = record.metadata
    return message


def _lift_defs(schema: dict[str, Any], prefix: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """Move `$defs` into `schemas` under `prefix + name`; rewrite the refs that pointed at them."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", None) or schema.pop("definitions", None) or {}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                for local in ("#/$defs/", "#/definitions/"):
                    if ref.startswith(local):
                        node = {**node, "$ref": f"#/components/schemas/{prefix}{ref[len(local) :]}"}
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for name, definition in defs.items():
        schemas[f"{prefix}{name}"] = rewrite(definition)
    lifted: dict[str, Any] = rewrite(schema)
    return lifted


def _operations(catalog: Catalog, channels: dict[str, Any]) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for agent_name, agent in sorted(catalog.agents.items()):
        sides = (
            ("send", [n for n in catalog.event_names() if agent_name in catalog.producers_of(n)]),
            (
                "receive",
                [n for n in catalog.event_names() if agent_name in catalog.consumers_of(n)],
            ),
        )
        for action, names in sides:
            by_topic: dict[str, list[str]] = {}
            for name in names:
                topic = catalog.topic_of(name)
                if topic is not None and topic.value in channels:
                    by_topic.setdefault(topic.value, []).append(name)
            for topic_value, events in sorted(by_topic.items()):
                operations[f"{agent_name}.{action}.{topic_value}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{topic_value}"},
                    "summary": f"{agent_name} ({agent.kind.value}) {action}s on {topic_value}",
                    "messages": [
                        {"$ref": f"#/channels/{topic_value}/messages/{e}"} for e in events
                    ],
                }
    return operations
