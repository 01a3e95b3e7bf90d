"""`soorma asyncapi`: the document is valid AsyncAPI 3.0 (official JSON Schema from
`@asyncapi/specs`, resolved offline) and every `$ref` in it points at something."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from soorma import Agent, Worker
from soorma.registry import Catalog
from soorma_common import EventDefinition, EventEnvelope, EventTopic
from soorma_dev.asyncapi import asyncapi_document, envelope_schema

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "node_modules" / "@asyncapi" / "specs"


@cache
def asyncapi_validator() -> jsonschema.Draft7Validator:
    """The official 3.0.0 schema: a bundle whose `definitions` carry their own `$id`s, so every
    `$ref` (http://asyncapi.com/definitions/3.0.0/...) resolves inside the file, offline."""
    package = json.loads((SPECS / "package.json").read_text())
    assert (
        package["version"]
        == json.loads((ROOT / "package.json").read_text())["devDependencies"]["@asyncapi/specs"]
    )
    schema = json.loads((SPECS / "schemas" / "3.0.0.json").read_text())
    return jsonschema.Draft7Validator(schema)


class Item(BaseModel):
    sku: str
    quantity: int


class Order(BaseModel):
    order_id: str
    items: list[Item]


class Reservation(BaseModel):
    reservation_id: str
    items: list[Item]


def catalog() -> Catalog:
    placed = EventDefinition(
        event_name="order.placed",
        topic=EventTopic.BUSINESS_FACTS,
        description="An order was placed",
        payload_schema=Order,
    )
    reserve = EventDefinition(
        event_name="stock.reserve",
        topic=EventTopic.ACTION_REQUESTS,
        description="Reserve stock",
        payload_schema=Order,
        response_schema=Reservation,
        metadata={"when_to_use": "always"},
    )
    shop = Agent("shop", events_produced=[placed, "order.audited"])
    inventory = Worker("inventory", events_consumed=[placed], events_produced=[reserve])
    inventory.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)(lambda e, c: None)
    warehouse = Worker("warehouse", events_consumed=[reserve])
    warehouse.on_event("stock.*")(lambda e, c: None)
    return Catalog.from_manifests([a.manifest() for a in (shop, inventory, warehouse)])


def pointer(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_document_is_valid_asyncapi_3() -> None:
    document = asyncapi_document(catalog(), title="Shop", version="2.1.0")
    errors = [e.message for e in asyncapi_validator().iter_errors(document)]
    assert errors == []
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Shop"


def test_channels_are_topics_and_messages_are_events_with_schemas() -> None:
    document = asyncapi_document(catalog())
    assert sorted(document["channels"]) == ["action-requests", "business-facts"]
    assert document["channels"]["business-facts"]["address"] == "business-facts"
    assert list(document["channels"]["action-requests"]["messages"]) == ["stock.reserve"]
    message = document["components"]["messages"]["stock.reserve"]
    envelope, specific = message["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/SoormaEnvelope"}
    assert specific["properties"]["type"] == {"const": "stock.reserve"}
    data = pointer(document, specific["properties"]["data"]["$ref"])
    assert data["required"] == ["order_id", "items"]
    assert pointer(document, data["properties"]["items"]["items"]["$ref"])["required"] == [
        "sku",
        "quantity",
    ]
    assert pointer(document, message["x-soorma-response"]["$ref"])["title"] == "Reservation"
    assert message["x-soorma-metadata"] == {"when_to_use": "always"}
    # produced by name only, topic unknown: not placed on a channel
    assert "order.audited" not in document["components"]["messages"]


def test_every_ref_resolves_and_operations_follow_the_agents() -> None:
    document = asyncapi_document(catalog())
    for ref in refs(document):
        assert ref.startswith("#/"), ref
        pointer(document, ref)
    assert sorted(document["operations"]) == [
        "inventory.receive.business-facts",
        "inventory.send.action-requests",
        "shop.send.business-facts",
        "warehouse.receive.action-requests",
    ]
    assert document["operations"]["warehouse.receive.action-requests"]["messages"] == [
        {"$ref": "#/channels/action-requests/messages/stock.reserve"}
    ]


def test_the_envelope_schema_names_every_wire_attribute_of_the_contract() -> None:
    from soorma_common.envelope import EXTENSION_WIRE_NAMES, REQUIRED_WIRE_ATTRIBUTES, EventEnvelope

    envelope = asyncapi_document(catalog())["components"]["schemas"]["SoormaEnvelope"]
    assert set(EXTENSION_WIRE_NAMES.values()) <= set(envelope["properties"])
    assert envelope["required"] == list(REQUIRED_WIRE_ATTRIBUTES)
    wire = EventEnvelope(
        source="soorma.shop",
        type="order.placed",
        topic=EventTopic.BUSINESS_FACTS,
        data={},
        tenant_id="t",
        reply_to="shop",
        correlation_id="c",
    ).to_wire()
    assert set(wire) <= set(envelope["properties"])  # nothing on the wire is undocumented


def test_the_validator_catches_a_broken_document() -> None:
    document = asyncapi_document(catalog())
    document["operations"]["shop.send.business-facts"]["action"] = "publish"  # AsyncAPI 2 verb
    with pytest.raises(jsonschema.ValidationError):
        asyncapi_validator().validate(document)


def test_examples_document_is_valid() -> None:
    from soorma_dev.cli.registry import catalog_from_manifests

    examples = catalog_from_manifests([ROOT / "examples" / "order-fanout"])
    assert asyncapi_validator().is_valid(asyncapi_document(examples))


def test_the_envelope_schema_accepts_what_the_bus_puts_on_the_wire() -> None:
    wire = EventEnvelope(
        source="soorma.shop",
        type="order.placed",
        topic=EventTopic.BUSINESS_FACTS,
        data={"order_id": "o-1"},
        correlation_id="c-1",
        reply_to="shop",
        hop_count=3,
    ).to_wire()
    validator = jsonschema.Draft7Validator(envelope_schema())

    assert list(validator.iter_errors(wire)) == []
    assert envelope_schema()["properties"]["hopcount"]["type"] == "integer"
