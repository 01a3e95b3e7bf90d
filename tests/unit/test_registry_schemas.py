"""Schemas are checked where they enter: the draft-07 meta-schema, local references, compiling."""

from __future__ import annotations

import copy
import urllib.request
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from soorma import BusClient
from soorma.registry.draft07 import DRAFT07_META_SCHEMA
from soorma.registry.schemas import (
    InvalidSchemaError,
    check_definition,
    check_schema,
    schema_problem,
)
from soorma.registry.validation import PayloadValidator
from soorma_common import EventDefinition, EventTopic
from soorma_common.errors import PermanentError
from tests.malformed_schemas import MALFORMED


def test_the_meta_schema_is_draft_07_as_published() -> None:
    specifications = pytest.importorskip("jsonschema_specifications")
    published = specifications.REGISTRY.contents("http://json-schema.org/draft-07/schema#")
    check_schema({"type": "object"}, event="x.done")  # compiles the meta-schema: not in place
    assert published == DRAFT07_META_SCHEMA


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_each_kind_of_malformed_schema_is_named_with_its_place(kind: str) -> None:
    schema, problem = MALFORMED[kind]
    assert schema_problem(schema) == problem
    with pytest.raises(InvalidSchemaError) as raised:
        check_schema(schema, event="order.placed", which="response")
    assert isinstance(raised.value, PermanentError)
    assert str(raised.value) == (
        f"event 'order.placed': the response schema is not a valid JSON Schema (draft-07) "
        f"{problem}; fix the schema in the event's definition"
    )


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"type": "string", "pattern": "("}, 'at /pattern: "(" must be a valid regex'),
        ({"type": ["string", "strin"]}, 'at /type: unknown type ["string", "strin"]'),
        ({"required": ["a", "a"]}, 'at /required: ["a", "a"] must contain unique items'),
        ({"items": {"$ref": "#/definitions/gone"}}, "at /items/$ref: '#/definitions/gone' does"),
        # fastjsonschema resolves every `$ref` string, even inside `default`: so does the check
        ({"default": {"$ref": "nowhere"}}, "at /default/$ref: 'nowhere' points outside"),
    ],
)
def test_more_malformed_schemas(schema: dict[str, Any], problem: str) -> None:
    found = schema_problem(schema)
    assert found is not None and found.startswith(problem), found


def test_a_remote_reference_is_refused_without_fetching_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the check must not fetch a URL")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}
    problem = schema_problem(schema)
    assert problem is not None
    assert problem.startswith("at /properties/a/$ref: 'https://example.com/a.json' points outside")


class Line(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]-\d+$")
    quantity: int = Field(gt=0, le=100)


class Order(BaseModel):
    order_id: str
    status: Literal["open", "paid"] = "open"
    lines: list[Line]
    note: str | None = None
    parent: Order | None = None  # a recursive model: `$ref` to itself


VALID = {
    "pydantic, nested and recursive": Order.model_json_schema(),
    "plain": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
    "boolean subschemas": {
        "type": "object",
        "properties": {"x": True},
        "additionalProperties": False,
    },
    "draft-07 definitions": {
        "definitions": {"id": {"type": "string", "format": "uuid"}},
        "properties": {"id": {"$ref": "#/definitions/id"}},
    },
    "root reference": {"type": "object", "properties": {"child": {"$ref": "#"}}},
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_schemas_pass_unchanged(name: str) -> None:
    schema = VALID[name]
    before = copy.deepcopy(schema)
    assert schema_problem(schema) is None
    check_schema(schema, event="x.done")
    assert schema == before  # the check fills in no defaults


def test_a_definition_is_checked_and_the_validator_refuses_permanently() -> None:
    schema, problem = MALFORMED["minimum not a number"]
    definition = EventDefinition(
        event_name="order.placed", topic=EventTopic.BUSINESS_FACTS, payload_schema=schema
    )
    with pytest.raises(InvalidSchemaError, match=r"event 'order\.placed'"):
        check_definition(definition)

    # a runtime built from this definition: every publish fails, permanently, and says why
    bus = BusClient("orders", "soorma.orders", validate_payload=PayloadValidator([definition]))
    for _ in range(2):
        with pytest.raises(InvalidSchemaError) as raised:
            bus.publish(EventTopic.BUSINESS_FACTS, "order.placed", {"total": 3})
        assert problem in str(raised.value)
    assert bus.outbox == []
