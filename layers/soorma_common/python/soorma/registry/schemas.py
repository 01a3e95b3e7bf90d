"""Is an event's JSON Schema a schema at all? The check every schema passes where it enters.

A schema enters the registry at deploy (`sync_registry`), at run-time registration
(`RegistryClient.register_event`, through `RegistryTable.put`) and in the payload validator
(an agent's own `EventDefinition`, or a registry entry written before this check existed). At
each of these points `check_schema` runs three steps, and the first failure is an
`InvalidSchemaError` (permanent: no retry can fix a schema) that names the event, the schema
(payload or response), the place in it as a JSON Pointer, and what is wrong:

1. the JSON Schema draft-07 meta-schema (compiled once per process with fastjsonschema, the
   engine the payload checks use): an unknown `type`, a `required` that is not a list of
   strings, `properties` that is not an object, a `minimum` that is not a number...;
2. every `$ref` is a JSON Pointer into the schema itself (`#`, `#/$defs/Item`) that resolves:
   a remote `$ref` would make the compiler fetch a URL at publish time;
3. the schema compiles (an invalid `pattern` regex, anything else the compiler refuses).

A valid schema is refused too when it would hang or crash every payload check of its event
(`schema_hazards`): a `$ref` cycle that consumes no data, a regex with nested quantifiers
(`^(a+)+$`, a documented heuristic), or nesting past Python's recursion limit (about 1,000
levels of objects and arrays).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from soorma.registry.draft07 import DRAFT07_META_SCHEMA
from soorma.registry.schema_hazards import (
    has_nested_quantifier,
    patterns,
    pointer_part,
    ref_cycle,
    resolve,
)
from soorma_common.definitions import EventDefinition
from soorma_common.errors import PermanentError

PayloadCheck = Callable[[Any], Any]

_SIMPLE_TYPES = "array, boolean, integer, null, number, object, string"
#: Distinct schemas kept compiled per process.
_COMPILED_SCHEMAS = 256


class InvalidSchemaError(PermanentError, ValueError):
    """An event schema that is not a valid JSON Schema (draft-07), or that cannot be compiled."""


def check_schema(schema: Any, *, event: str, which: str = "payload") -> None:
    """Raise `InvalidSchemaError` unless `schema` is a valid, self-contained JSON Schema.

    `event` and `which` (`payload` / `response`) only name the schema in the message.
    """
    compile_checked(schema, event=event, which=which)


def check_event_schemas(
    event: str, payload_schema: Any = None, response_schema: Any = None
) -> None:
    """Check both schemas of one event (either may be None)."""
    for which, schema in (("payload", payload_schema), ("response", response_schema)):
        if schema is not None:
            check_schema(schema, event=event, which=which)


def check_definition(definition: EventDefinition) -> None:
    """Check the schemas of an `EventDefinition` (for agents and tools that declare events)."""
    check_event_schemas(
        definition.event_name, definition.payload_schema, definition.response_schema
    )


def compile_checked(schema: Any, *, event: str, which: str = "payload") -> PayloadCheck:
    """The fastjsonschema check of `schema` (defaults filled in), after the checks above.

    Compiled once per distinct schema per process (the check at an entry point and the payload
    validator share the compiled function). Raises `InvalidSchemaError`.
    """
    try:
        text = _canonical(schema)
    except InvalidSchemaError as exc:
        raise InvalidSchemaError(
            f"event {event!r}: the {which} schema is refused: {exc}; fix the schema in the "
            "event's definition"
        ) from None
    check, problem = _checked(text)
    if check is None:
        verdict = "is refused" if _is_hazard(text) else "is not a valid JSON Schema (draft-07)"
        raise InvalidSchemaError(
            f"event {event!r}: the {which} schema {verdict} {problem}; fix the schema in the "
            "event's definition"
        )
    return check


def schema_problem(schema: Any) -> str | None:
    """What is wrong with `schema` (`at /pointer: reason`), or None when it is valid."""
    return _checked(_canonical(schema))[1]


def _checked(text: str) -> tuple[PayloadCheck | None, str | None]:
    """The compiled check of a canonical schema text, or None and what is wrong."""
    try:
        problem = _static_problem(text)
    except RecursionError:
        problem = f"(it is nested too deeply to check: {_TOO_DEEP})"
    if problem is not None:
        return None, problem
    try:
        return _compile(text), None
    except Exception as exc:  # the compiler raises several kinds (re.error, AttributeError)
        return None, f"(it does not compile: {type(exc).__name__}: {exc})"


@lru_cache(maxsize=_COMPILED_SCHEMAS)
def _static_problem(text: str) -> str | None:
    """Steps 1 and 2 (meta-schema, references), kept per distinct schema text."""
    import fastjsonschema

    schema = json.loads(text)
    try:
        _meta_check()(schema)
    except fastjsonschema.JsonSchemaValueException as exc:
        return _describe_meta_failure(exc)
    holders = []
    for pointer, ref in _refs(schema, ""):
        reason = _unresolvable(ref, schema)
        if reason:
            return f"at {pointer}/$ref: {reason}"
        holders.append(pointer)
    return _hazard(schema, holders)


def _is_hazard(text: str) -> bool:
    """Whether the problem `_static_problem` found in a schema text is a hazard (a valid schema
    that would hang or crash its payload checks), not a fault against draft-07."""
    try:
        schema = json.loads(text)
        return _hazard(schema, [p for p, _ in _refs(schema, "")]) is not None
    except RecursionError:
        return True


def _hazard(schema: Any, holders: list[str]) -> str | None:
    """Step 4 (`schema_hazards`): a `$ref` cycle that consumes no data, a backtracking regex."""
    cycle = ref_cycle(schema, holders)
    if cycle is not None:
        chain = " -> ".join(f"#{pointer}" for pointer in cycle)
        return (
            f"at {cycle[0] or '/'}: the $ref chain {chain} is a cycle that never reaches a check "
            "of the data, so every payload check would recurse forever; point each $ref at a "
            "schema that checks something"
        )
    for pointer, pattern in patterns(schema):
        if has_nested_quantifier(pattern):
            return (
                f"at {pointer}: the pattern {pattern!r} repeats a group that itself repeats "
                "(nested quantifiers, as in '(a+)+'), which Python's backtracking regex engine "
                "may take exponential time to reject; rewrite it without the nesting "
                "(e.g. '^a+$' for '^(a+)+$')"
            )
    return None


@lru_cache(maxsize=1)
def _meta_check() -> PayloadCheck:
    """The draft-07 meta-schema, compiled once per process (≈ 40 ms)."""
    import fastjsonschema

    # a copy: fastjsonschema rewrites the `$ref`s of the schema it compiles, in place
    meta_schema = json.loads(json.dumps(DRAFT07_META_SCHEMA))
    check: PayloadCheck = fastjsonschema.compile(meta_schema, use_default=False)
    return check


_TOO_DEEP = (
    "nested past Python's recursion limit (about 1,000 levels of objects and arrays); "
    "flatten it with definitions and $ref"
)


def _canonical(schema: Any) -> str:
    try:
        return json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidSchemaError(f"a schema must be plain JSON: {exc}") from None
    except RecursionError:
        raise InvalidSchemaError(f"it is {_TOO_DEEP}") from None


@lru_cache(maxsize=_COMPILED_SCHEMAS)
def _compile(text: str) -> PayloadCheck:
    import fastjsonschema

    check: PayloadCheck = fastjsonschema.compile(json.loads(text))
    return check


def _describe_meta_failure(exc: Any) -> str:
    parts = [str(p) for p in (exc.path or [])][1:]  # drop fastjsonschema's leading "data"
    pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    value = json.dumps(exc.value)[:80]
    if parts and parts[-1] == "type" and exc.rule == "anyOf":
        return f"at {pointer}: unknown type {value}: use one of {_SIMPLE_TYPES} (or a list)"
    message = str(exc.message)
    name = str(exc.name or "data")
    if message.startswith(name):
        message = message[len(name) :].strip()
    return f"at {pointer}: {value} {message}"


def _refs(node: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Every `$ref` string in a schema, with the JSON Pointer of the object holding it."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield pointer, ref
        for key, value in node.items():  # data keywords too: fastjsonschema resolves them all
            yield from _refs(value, f"{pointer}/{pointer_part(str(key))}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{pointer}/{index}")


def _unresolvable(ref: str, root: Any) -> str | None:
    """Why `ref` does not resolve inside `root` (None when it does)."""
    if not ref.startswith("#"):
        return (
            f"{ref!r} points outside the schema: only references into the schema itself "
            "('#/$defs/Name') are allowed, the registry never fetches a URL"
        )
    if ref == "#":
        return None
    if not ref.startswith("#/"):
        return f"{ref!r} is not a JSON Pointer ('#/$defs/Name')"
    _, missing = resolve(unquote(ref[1:]), root)
    if missing is not None:
        return f"{ref!r} does not resolve: no {missing!r} in the schema"
    return None
