"""The JSON Schema draft-07 meta-schema (http://json-schema.org/draft-07/schema#), as data.

The schema every event schema must satisfy before the registry accepts it. Written from the
draft-07 specification's published meta-schema ("Core schema meta-schema"); a test compares it
with the copy the `jsonschema` project ships. Kept as a Python constant so that the Lambda layer
needs no package data and no network to check a schema.
"""

from __future__ import annotations

from typing import Any

_SCHEMA: dict[str, Any] = {"$ref": "#"}
_SCHEMA_ARRAY_REF: dict[str, Any] = {"$ref": "#/definitions/schemaArray"}
_NON_NEGATIVE: dict[str, Any] = {"$ref": "#/definitions/nonNegativeInteger"}
_NON_NEGATIVE_DEFAULT_0: dict[str, Any] = {"$ref": "#/definitions/nonNegativeIntegerDefault0"}
_SCHEMA_MAP: dict[str, Any] = {"type": "object", "additionalProperties": _SCHEMA, "default": {}}

DRAFT07_META_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "http://json-schema.org/draft-07/schema#",
    "title": "Core schema meta-schema",
    "definitions": {
        "schemaArray": {"type": "array", "minItems": 1, "items": _SCHEMA},
        "nonNegativeInteger": {"type": "integer", "minimum": 0},
        "nonNegativeIntegerDefault0": {"allOf": [_NON_NEGATIVE, {"default": 0}]},
        "simpleTypes": {
            "enum": ["array", "boolean", "integer", "null", "number", "object", "string"]
        },
        "stringArray": {
            "type": "array",
            "items": {"type": "string"},
            "uniqueItems": True,
            "default": [],
        },
    },
    "type": ["object", "boolean"],
    "properties": {
        "$id": {"type": "string", "format": "uri-reference"},
        "$schema": {"type": "string", "format": "uri"},
        "$ref": {"type": "string", "format": "uri-reference"},
        "$comment": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "default": True,
        "readOnly": {"type": "boolean", "default": False},
        "examples": {"type": "array", "items": True},
        "multipleOf": {"type": "number", "exclusiveMinimum": 0},
        "maximum": {"type": "number"},
        "exclusiveMaximum": {"type": "number"},
        "minimum": {"type": "number"},
        "exclusiveMinimum": {"type": "number"},
        "maxLength": _NON_NEGATIVE,
        "minLength": _NON_NEGATIVE_DEFAULT_0,
        "pattern": {"type": "string", "format": "regex"},
        "additionalItems": _SCHEMA,
        "items": {"anyOf": [_SCHEMA, _SCHEMA_ARRAY_REF], "default": True},
        "maxItems": _NON_NEGATIVE,
        "minItems": _NON_NEGATIVE_DEFAULT_0,
        "uniqueItems": {"type": "boolean", "default": False},
        "contains": _SCHEMA,
        "maxProperties": _NON_NEGATIVE,
        "minProperties": _NON_NEGATIVE_DEFAULT_0,
        "required": {"$ref": "#/definitions/stringArray"},
        "additionalProperties": _SCHEMA,
        "definitions": _SCHEMA_MAP,
        "properties": _SCHEMA_MAP,
        "patternProperties": {**_SCHEMA_MAP, "propertyNames": {"format": "regex"}},
        "dependencies": {
            "type": "object",
            "additionalProperties": {
                "anyOf": [_SCHEMA, {"$ref": "#/definitions/stringArray"}],
            },
        },
        "propertyNames": _SCHEMA,
        "const": True,
        "enum": {"type": "array", "items": True},
        "type": {
            "anyOf": [
                {"$ref": "#/definitions/simpleTypes"},
                {
                    "type": "array",
                    "items": {"$ref": "#/definitions/simpleTypes"},
                    "minItems": 1,
                    "uniqueItems": True,
                },
            ]
        },
        "format": {"type": "string"},
        "contentMediaType": {"type": "string"},
        "contentEncoding": {"type": "string"},
        "if": _SCHEMA,
        "then": _SCHEMA,
        "else": _SCHEMA,
        "allOf": _SCHEMA_ARRAY_REF,
        "anyOf": _SCHEMA_ARRAY_REF,
        "oneOf": _SCHEMA_ARRAY_REF,
        "not": _SCHEMA,
    },
    "default": True,
}
