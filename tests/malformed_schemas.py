"""Five kinds of malformed JSON Schema (and what the registry says of each), for the tests of the
places where schemas enter the registry."""

from __future__ import annotations

from typing import Any

#: kind -> (an event payload schema of that kind, what `schema_problem` says of it)
MALFORMED: dict[str, tuple[dict[str, Any], str]] = {
    "unknown type": (
        {"type": "object", "properties": {"total": {"type": "strin"}}},
        'at /properties/total/type: unknown type "strin": use one of array, boolean, integer, '
        "null, number, object, string (or a list)",
    ),
    "required not a list": (
        {"type": "object", "properties": {"x": {"type": "string"}}, "required": "x"},
        'at /required: "x" must be array',
    ),
    "properties not an object": (
        {"type": "object", "properties": []},
        "at /properties: [] must be object",
    ),
    "minimum not a number": (
        {"type": "object", "properties": {"total": {"type": "number", "minimum": "3"}}},
        'at /properties/total/minimum: "3" must be number',
    ),
    "unresolvable $ref": (
        {"type": "object", "properties": {"item": {"$ref": "#/$defs/Item"}}},
        "at /properties/item/$ref: '#/$defs/Item' does not resolve: no '$defs' in the schema",
    ),
}
