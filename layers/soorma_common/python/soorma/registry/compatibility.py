"""Is a new JSON Schema of an event compatible with the registered one?

Incompatible changes (the ones that break a producer or a consumer already deployed):
- a required field added (old producers do not send it);
- a field's type changed (old producers send the old type, old consumers expect it).
Everything else (optional fields added, fields made optional, descriptions) is compatible. An
incompatible change needs a new event name carrying a version (`order.placed.v2`), which is a
new registry entry. Going back to the schema that the last change replaced is allowed: that is
what a CloudFormation rollback does.
"""

from __future__ import annotations

from typing import Any

from soorma.registry.entries import EventRecord
from soorma_common.definitions import JsonSchema
from soorma_common.errors import PermanentError


class IncompatibleSchemaError(PermanentError):
    """A re-registration that changes an event's schema incompatibly."""


def schema_changes(old: JsonSchema | None, new: JsonSchema | None) -> list[str]:
    """The incompatible changes from `old` to `new`, as sentences (empty when compatible)."""
    if not old or not new:
        return []
    changes: list[str] = []
    _compare(old, new, old, new, "", changes)
    return changes


def check_compatible(registered: EventRecord, candidate: EventRecord) -> None:
    """Raise `IncompatibleSchemaError` naming the event and every change when `candidate` may not
    replace `registered`."""
    problems = incompatibilities(registered, candidate)
    if problems:
        raise IncompatibleSchemaError("; ".join(problems))


def incompatibilities(registered: EventRecord, candidate: EventRecord) -> list[str]:
    """Every reason why `candidate` may not replace `registered` (empty when it may)."""
    problems: list[str] = []
    if registered.topic != candidate.topic:
        problems.append(
            f"event {candidate.name!r}: topic changed from {registered.topic.value} to "
            f"{candidate.topic.value}"
        )
    pairs = (
        (
            "payload",
            registered.payload_schema,
            registered.previous_payload_schema,
            candidate.payload_schema,
        ),
        (
            "response",
            registered.response_schema,
            registered.previous_response_schema,
            candidate.response_schema,
        ),
    )
    for which, current, previous, new in pairs:
        if new is not None and new == previous:
            continue  # a rollback to the schema the last change replaced
        for change in schema_changes(current, new):
            problems.append(f"event {candidate.name!r}: {which} {change}")
    if problems:
        problems.append(
            f"an incompatible change needs a new versioned name (e.g. "
            f"{_next_version_name(candidate.name)!r})"
        )
    return problems


def _next_version_name(name: str) -> str:
    stem, _, number = name.rpartition(".v")
    if stem and number.isdigit():
        return f"{stem}.v{int(number) + 1}"
    return f"{name}.v2"


def _resolve(schema: Any, root: JsonSchema) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref: str = schema["$ref"]
        if not ref.startswith("#/"):
            return schema
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                return schema
            target = target[part]
        schema = target
        seen += 1
    return schema


def _types(schema: Any, root: JsonSchema, depth: int = 0) -> frozenset[str]:
    schema = _resolve(schema, root)
    if not isinstance(schema, dict) or depth > 8:
        return frozenset()
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(str(t) for t in declared)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list):
        found: set[str] = set()
        for branch in branches:
            types = _types(branch, root, depth + 1)
            if not types:
                return frozenset()  # a branch of unknown type: cannot compare
            found |= types
        return frozenset(found)
    return frozenset()


def _compare(
    old: Any,
    new: Any,
    old_root: JsonSchema,
    new_root: JsonSchema,
    path: str,
    out: list[str],
    depth: int = 0,
) -> None:
    if depth > 16:
        return
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    where = f"field {path!r}" if path else "the payload"
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if old_types and new_types and old_types != new_types:
        out.append(
            f"type of {where} changed from {'|'.join(sorted(old_types))} to "
            f"{'|'.join(sorted(new_types))}"
        )
        return
    old_required = set(old.get("required") or ())
    for name in sorted(set(new.get("required") or ()) - old_required):
        out.append(f"required field {_join(path, name)!r} added")
    old_props = old.get("properties") or {}
    new_props = new.get("properties") or {}
    for name in sorted(set(old_props) & set(new_props)):
        _compare(
            old_props[name], new_props[name], old_root, new_root, _join(path, name), out, depth + 1
        )
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], old_root, new_root, f"{path}[]", out, depth + 1)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
