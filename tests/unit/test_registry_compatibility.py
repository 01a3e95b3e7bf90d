"""Schema compatibility rules (pure)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from soorma.registry import EventRecord, schema_changes
from soorma.registry.compatibility import incompatibilities

JSON_TYPES = ["string", "integer", "number", "boolean", "object", "array"]

field_names = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
object_schemas = st.dictionaries(field_names, st.sampled_from(JSON_TYPES), max_size=6).flatmap(
    lambda props: st.builds(
        lambda required: {
            "type": "object",
            "properties": {name: {"type": kind} for name, kind in props.items()},
            "required": sorted(required),
        },
        st.sets(st.sampled_from(sorted(props)) if props else st.nothing(), max_size=len(props)),
    )
)


@given(object_schemas)
def test_a_schema_is_compatible_with_itself(schema: dict[str, Any]) -> None:
    assert schema_changes(schema, schema) == []


@given(object_schemas, field_names, st.sampled_from(JSON_TYPES))
def test_adding_an_optional_field_is_compatible(
    schema: dict[str, Any], name: str, kind: str
) -> None:
    if name in schema["properties"]:
        return
    wider = {**schema, "properties": {**schema["properties"], name: {"type": kind}}}
    assert schema_changes(schema, wider) == []


@given(object_schemas, field_names, st.sampled_from(JSON_TYPES))
def test_adding_a_required_field_is_named(schema: dict[str, Any], name: str, kind: str) -> None:
    if name in schema["required"]:
        return
    stricter = {
        **schema,
        "properties": {**schema["properties"], name: {"type": kind}},
        "required": [*schema["required"], name],
    }
    assert f"required field {name!r} added" in schema_changes(schema, stricter)


@given(object_schemas.filter(lambda s: bool(s["properties"])), st.data())
def test_changing_a_type_is_named(schema: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(schema["properties"])))
    old = schema["properties"][name]["type"]
    new = data.draw(st.sampled_from([t for t in JSON_TYPES if t != old]))
    changed = {**schema, "properties": {**schema["properties"], name: {"type": new}}}
    assert f"type of field {name!r} changed from {old} to {new}" in schema_changes(schema, changed)


def test_nested_models_through_refs() -> None:
    class ItemV1(BaseModel):
        sku: str

    class ItemV2(BaseModel):
        sku: int

    class OrderV1(BaseModel):
        items: list[ItemV1]

    class OrderV2(BaseModel):
        items: list[ItemV2]

    assert schema_changes(OrderV1.model_json_schema(), OrderV2.model_json_schema()) == [
        "type of field 'items[].sku' changed from string to integer"
    ]


def test_optional_fields_compare_by_their_union_of_types() -> None:
    class A(BaseModel):
        note: str | None = None

    class B(BaseModel):
        note: int | None = None

    assert schema_changes(A.model_json_schema(), A.model_json_schema()) == []
    assert schema_changes(A.model_json_schema(), B.model_json_schema()) == [
        "type of field 'note' changed from null|string to integer|null"
    ]


def test_making_a_field_optional_is_compatible_and_may_be_rolled_back() -> None:
    strict = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert schema_changes(strict, loose) == []
    assert schema_changes(loose, strict) == ["required field 'a' added"]
    registered = EventRecord(
        name="x.done", topic="business-facts", payload_schema=loose, previous_payload_schema=strict
    )
    rollback = EventRecord(name="x.done", topic="business-facts", payload_schema=strict)
    assert incompatibilities(registered, rollback) == []


def test_topic_change_and_version_hint() -> None:
    registered = EventRecord(name="order.placed.v2", topic="business-facts")
    moved = EventRecord(name="order.placed.v2", topic="action-requests")
    problems = incompatibilities(registered, moved)
    assert problems[0] == (
        "event 'order.placed.v2': topic changed from business-facts to action-requests"
    )
    assert "'order.placed.v3'" in problems[-1]
