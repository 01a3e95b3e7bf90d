"""Schema compatibility rules (pure): FULL by default, both directions checked."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from soorma.registry import EventRecord, schema_changes
from soorma.registry.compatibility import (
    CompatibilityRule,
    IncompatibleSchemaError,
    check_compatible,
    incompatibilities,
)
from soorma.registry.schemas import InvalidSchemaError

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
    if name in schema["properties"]:
        return
    stricter = {
        **schema,
        "properties": {**schema["properties"], name: {"type": kind}},
        "required": [*schema["required"], name],
    }
    assert f"required field {name!r} added (old producers do not send it)" in schema_changes(
        schema, stricter
    )
    assert schema_changes(schema, stricter, "FORWARD") == []  # old consumers accept it


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


# ---- each change the issue lists, and the allowed ones, under each rule ----------------------

BASE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "paid"]},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "note": {"type": "string", "description": "free text"},
    },
    "required": ["order_id", "quantity"],
}


def changed(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def remove_required_field(s: dict[str, Any]) -> None:
    del s["properties"]["order_id"]
    s["required"] = ["quantity"]


BREAKING = {
    # change: (new schema, the sentence, breaks backward, breaks forward)
    "remove a required field": (
        changed(remove_required_field),
        "required field 'order_id' removed (old consumers require it)",
        False,
        True,
    ),
    "make a required field optional": (
        changed(lambda s: s.update(required=["quantity"])),
        "required field 'order_id' made optional (old consumers require it)",
        False,
        True,
    ),
    "remove a property": (
        changed(lambda s: s["properties"].pop("note")),
        "field 'note' removed (new producers may send any value under its name; old consumers "
        "check it against its old schema)",
        False,
        True,
    ),
    "add additionalProperties: false": (
        changed(lambda s: s.update(additionalProperties=False)),
        "additionalProperties: false added to the payload (old producers may send undeclared "
        "fields)",
        True,
        False,
    ),
    "narrow an enum": (
        changed(lambda s: s["properties"]["status"].update(enum=["open"])),
        "enum of field 'status' narrowed: \"paid\" no longer allowed (new consumers would "
        "refuse values old producers may send)",
        True,
        False,
    ),
    "raise a minimum": (
        changed(lambda s: s["properties"]["quantity"].update(minimum=5)),
        "minimum of field 'quantity' raised from 1 to 5 (new consumers would refuse values old "
        "producers may send)",
        True,
        False,
    ),
    "make a minimum exclusive": (
        changed(lambda s: s["properties"]["quantity"].update(exclusiveMinimum=1)),
        "minimum of field 'quantity' raised from 1 to 1 (exclusive) (new consumers would refuse "
        "values old producers may send)",
        True,
        False,
    ),
    "lower a maximum": (
        changed(lambda s: s["properties"]["quantity"].update(maximum=10)),
        "maximum of field 'quantity' lowered from 100 to 10 (new consumers would refuse values "
        "old producers may send)",
        True,
        False,
    ),
    "add a maxLength": (
        changed(lambda s: s["properties"]["note"].update(maxLength=20)),
        "maxLength of field 'note' changed from none to 20 (new consumers would refuse values "
        "old producers may send)",
        True,
        False,
    ),
    "widen an enum": (
        changed(lambda s: s["properties"]["status"].update(enum=["open", "paid", "refunded"])),
        "enum of field 'status' widened: \"refunded\" added (old consumers would refuse values "
        "new producers may send)",
        False,
        True,
    ),
    "lower a minimum": (
        changed(lambda s: s["properties"]["quantity"].update(minimum=0)),
        "minimum of field 'quantity' lowered from 1 to 0 (old consumers would refuse values new "
        "producers may send)",
        False,
        True,
    ),
    "widen a type": (
        changed(lambda s: s["properties"]["quantity"].update(type="number")),
        "type of field 'quantity' changed from integer to number",
        False,
        True,
    ),
    "make a field nullable": (
        changed(
            lambda s: s["properties"].update(note={"anyOf": [{"type": "string"}, {"type": "null"}]})
        ),
        "type of field 'note' changed from string to null|string",
        False,
        True,
    ),
}


@pytest.mark.parametrize("change", sorted(BREAKING))
def test_each_breaking_change_is_named_in_the_direction_it_breaks(change: str) -> None:
    new, sentence, breaks_backward, breaks_forward = BREAKING[change]
    assert schema_changes(BASE, new) == [sentence]  # FULL: both directions
    assert schema_changes(BASE, new, "BACKWARD") == ([sentence] if breaks_backward else [])
    assert schema_changes(BASE, new, "FORWARD") == ([sentence] if breaks_forward else [])


ALLOWED = {
    "add an optional property": changed(
        lambda s: s["properties"].update(coupon={"type": "string"})
    ),
    "change descriptions and titles": changed(
        lambda s: s["properties"]["note"].update(description="a note", title="Note")
    ),
    "add a default and examples": changed(
        lambda s: s["properties"]["note"].update(default="", examples=["gift"])
    ),
    "reorder required and enum values": changed(
        lambda s: (
            s.update(required=["quantity", "order_id"])
            or s["properties"]["status"].update(enum=["paid", "open"])
        )
    ),
}


@pytest.mark.parametrize("change", sorted(ALLOWED))
def test_changes_that_break_no_one_are_allowed(change: str) -> None:
    assert schema_changes(BASE, ALLOWED[change]) == []


def test_adding_a_property_to_a_closed_object_breaks_old_consumers() -> None:
    closed = {**BASE, "additionalProperties": False}
    wider = {**closed, "properties": {**closed["properties"], "coupon": {"type": "string"}}}
    assert schema_changes(closed, wider) == [
        "field 'coupon' added, but old consumers refuse undeclared fields "
        "(additionalProperties: false)"
    ]
    assert schema_changes(closed, wider, CompatibilityRule.BACKWARD) == []


def record(schema: dict[str, Any], **metadata: Any) -> EventRecord:
    return EventRecord(
        name="order.placed", topic="business-facts", payload_schema=schema, metadata=metadata
    )


def test_the_candidates_rule_decides_and_is_named() -> None:
    widened = BREAKING["widen an enum"][0]
    [problem, hint] = incompatibilities(record(BASE), record(widened))
    assert problem.startswith("event 'order.placed': payload enum of field 'status' widened")
    assert problem.endswith("[rule FULL]")
    assert "'order.placed.v2'" in hint
    assert incompatibilities(record(BASE), record(widened, compatibility="BACKWARD")) == []
    assert incompatibilities(record(BASE), record(widened, compatibility="backward")) == []
    assert incompatibilities(record(BASE), record(BASE, compatibility="NONE")) == [
        "event 'order.placed': metadata 'compatibility' is 'NONE': use FULL, BACKWARD or FORWARD"
    ]


def test_a_rollback_to_the_replaced_schema_is_allowed() -> None:
    strict = BASE
    loose = changed(lambda s: s.update(required=["quantity"]))
    registered = EventRecord(
        name="x.done", topic="business-facts", payload_schema=loose, previous_payload_schema=strict
    )
    assert incompatibilities(registered, record(strict).model_copy(update={"name": "x.done"})) == []
    assert schema_changes(loose, strict) == [
        "required field 'order_id' added (old producers do not send it)"
    ]


def test_topic_change_and_version_hint() -> None:
    registered = EventRecord(name="order.placed.v2", topic="business-facts")
    moved = EventRecord(name="order.placed.v2", topic="action-requests")
    problems = incompatibilities(registered, moved)
    assert problems[0] == (
        "event 'order.placed.v2': topic changed from business-facts to action-requests"
    )
    assert "'order.placed.v3'" in problems[-1]


def test_a_malformed_candidate_is_refused_before_comparing() -> None:
    with pytest.raises(InvalidSchemaError, match=r"at /properties: \[\] must be object"):
        check_compatible(record(BASE), record({"type": "object", "properties": []}))
    with pytest.raises(IncompatibleSchemaError, match="narrowed"):
        check_compatible(record(BASE), record(BREAKING["narrow an enum"][0]))


# ---- soundness: a change called compatible never changes what is valid ----------------------

FIELDS = ["a", "b", "c"]
field_schemas = st.one_of(
    st.builds(
        lambda kind, low, high: {
            "type": kind,
            **({"minimum": low} if low is not None else {}),
            **({"maximum": high} if high is not None else {}),
        },
        st.sampled_from(["integer", "number"]),
        st.none() | st.integers(-2, 2),
        st.none() | st.integers(-2, 2),
    ),
    st.builds(
        lambda enum, max_length: {
            "type": "string",
            **({"enum": enum} if enum else {}),
            **({"maxLength": max_length} if max_length is not None else {}),
        },
        st.lists(st.sampled_from(["x", "y", "zz"]), unique=True, max_size=3),
        st.none() | st.integers(0, 2),
    ),
    st.just({"type": "boolean"}),
    st.just({"anyOf": [{"type": "string"}, {"type": "null"}]}),
    st.just({}),
)
small_schemas = st.builds(
    lambda props, required, closed: {
        "type": "object",
        "properties": props,
        "required": sorted(set(required) & set(props)),
        **({"additionalProperties": False} if closed else {}),
    },
    st.dictionaries(st.sampled_from(FIELDS), field_schemas, max_size=3),
    st.lists(st.sampled_from(FIELDS), unique=True),
    st.booleans(),
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0]),
    st.sampled_from(["", "x", "y", "zz", "long text"]),
)


def payloads(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), values, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_schemas, small_schemas, st.data())
def test_what_the_check_calls_compatible_keeps_every_payload_valid(
    old: dict[str, Any], new: dict[str, Any], data: st.DataObject
) -> None:
    old_valid, new_valid = _validity(old), _validity(new)
    if schema_changes(old, new, "BACKWARD") == []:
        # what old producers send: declared fields and undeclared names no schema declares
        for payload in data.draw(st.lists(payloads([*old["properties"], "other"]), max_size=20)):
            if old_valid(payload):
                assert new_valid(payload), payload
    if schema_changes(old, new, "FORWARD") == []:
        for payload in data.draw(st.lists(payloads([*FIELDS, "other"]), max_size=20)):
            if new_valid(payload):
                assert old_valid(payload), payload


def _validity(schema: dict[str, Any]) -> Callable[[Any], bool]:
    check = fastjsonschema.compile(copy.deepcopy(schema), use_default=False)

    def valid(payload: Any) -> bool:
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    return valid
