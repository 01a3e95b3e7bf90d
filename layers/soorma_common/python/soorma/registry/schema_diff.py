"""The breaking changes between two JSON Schemas, each tagged with the direction it breaks.

`breaking_changes(old, new, backward=..., forward=...)` compares two schemas structurally
(following local `$ref`s, union branches of the same type, properties, array items) and names,
as sentences, every change that breaks a checked direction:

- backward: some value valid under `old` (sent by an old producer) is invalid under `new`;
- forward: some value valid under `new` (sent by a new producer) is invalid under `old`.

What each keyword's change breaks is listed in `soorma.registry.compatibility`'s docstring.
Unknown keywords and shapes it cannot compare (`not`, `if`, tuple `items`, unions whose branches
share a type) are not compared.
"""

from __future__ import annotations

import json
import math
from typing import Any

_MAX_DEPTH = 16
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties")
_EXACT_KEYWORDS = ("pattern", "format")
_UNCONSTRAINED_WITHOUT = frozenset(
    {"type", "anyOf", "oneOf", "allOf", "enum", "const", "$ref", "not"}
)
_BACKWARD = "new consumers would refuse values old producers may send"
_FORWARD = "old consumers would refuse values new producers may send"


def breaking_changes(old: Any, new: Any, *, backward: bool, forward: bool) -> list[str]:
    """The changes from `old` to `new` that break a checked direction, in schema order."""
    comparison = _Comparison(old, new, backward=backward, forward=forward)
    comparison.compare(old, new, "", 0)
    return list(dict.fromkeys(comparison.out))


class _Comparison:
    """One comparison of two schemas; `out` collects the breaking changes found."""

    def __init__(self, old_root: Any, new_root: Any, *, backward: bool, forward: bool) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.backward = backward
        self.forward = forward
        self.out: list[str] = []

    def report(self, *, breaks_backward: bool, breaks_forward: bool, message: str) -> None:
        if (self.backward and breaks_backward) or (self.forward and breaks_forward):
            self.out.append(message)

    def compare(self, old: Any, new: Any, path: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        old, new = _resolve(old, self.old_root), _resolve(new, self.new_root)
        if not isinstance(old, dict) or not isinstance(new, dict):
            return
        where = f"field {path!r}" if path else "the payload"
        if self._types_differ(old, new, where):
            return
        old_branches, new_branches = _branches(old), _branches(new)
        if old_branches is not None or new_branches is not None:
            for old_branch, new_branch in self._paired(old, new, old_branches, new_branches):
                self.compare(old_branch, new_branch, path, depth + 1)
            return
        self._values(old, new, where)
        self._bounds(old, new, where)
        self._objects(old, new, path, depth)
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            self.compare(old["items"], new["items"], f"{path}[]", depth + 1)

    def _types_differ(self, old: dict[str, Any], new: dict[str, Any], where: str) -> bool:
        old_types = _types(old, self.old_root, 0)
        new_types = _types(new, self.new_root, 0)
        if old_types and new_types:
            if old_types == new_types:
                return False
            self.report(
                breaks_backward=not _within(old_types, new_types),
                breaks_forward=not _within(new_types, old_types),
                message=f"type of {where} changed from {_show_types(old_types)} to "
                f"{_show_types(new_types)}",
            )
            return not _overlap(old_types, new_types)  # nothing left to compare inside
        if new_types and _unconstrained(old):
            self.report(
                breaks_backward=True,
                breaks_forward=False,
                message=f"type of {where} restricted to {_show_types(new_types)} ({_BACKWARD})",
            )
        elif old_types and _unconstrained(new):
            self.report(
                breaks_backward=False,
                breaks_forward=True,
                message=f"type constraint of {where} removed (old consumers expect "
                f"{_show_types(old_types)})",
            )
        return False

    def _paired(
        self,
        old: dict[str, Any],
        new: dict[str, Any],
        old_branches: list[Any] | None,
        new_branches: list[Any] | None,
    ) -> list[tuple[Any, Any]]:
        """Union branches of the same type on both sides (`Optional[Item]` and the like)."""
        old_by_type = self._by_type(old_branches or [old], self.old_root)
        new_by_type = self._by_type(new_branches or [new], self.new_root)
        return [(old_by_type[t], new_by_type[t]) for t in old_by_type if t in new_by_type]

    @staticmethod
    def _by_type(branches: list[Any], root: Any) -> dict[frozenset[str], Any]:
        found: dict[frozenset[str], list[Any]] = {}
        for branch in branches:
            found.setdefault(_types(branch, root, 0), []).append(branch)
        return {t: b[0] for t, b in found.items() if t and len(b) == 1}

    def _values(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        old_values, new_values = _allowed_values(old), _allowed_values(new)
        if old_values == new_values:
            return
        if new_values is not None:
            if old_values is None:
                message = f"{where} limited to the values {_show_values(new_values)} ({_BACKWARD}"
                self.report(breaks_backward=True, breaks_forward=False, message=message + ")")
            else:
                gone = {k: v for k, v in old_values.items() if k not in new_values}
                self.report(
                    breaks_backward=bool(gone),
                    breaks_forward=False,
                    message=f"enum of {where} narrowed: {_show_values(gone)} no longer allowed "
                    f"({_BACKWARD})",
                )
        if old_values is not None:
            if new_values is None:
                self.report(
                    breaks_backward=False,
                    breaks_forward=True,
                    message=f"enum of {where} removed (old consumers accept only "
                    f"{_show_values(old_values)})",
                )
            else:
                added = {k: v for k, v in new_values.items() if k not in old_values}
                self.report(
                    breaks_backward=False,
                    breaks_forward=bool(added),
                    message=f"enum of {where} widened: {_show_values(added)} added ({_FORWARD})",
                )

    def _bounds(self, old: dict[str, Any], new: dict[str, Any], where: str) -> None:
        old_low, new_low = _lower(old), _lower(new)
        if old_low != new_low:
            raised = new_low > old_low  # (value, exclusive): larger is stricter
            self.report(
                breaks_backward=raised,
                breaks_forward=not raised,
                message=f"minimum of {where} {'raised' if raised else 'lowered'} from "
                f"{_show_bound(old_low)} to {_show_bound(new_low)} "
                f"({_BACKWARD if raised else _FORWARD})",
            )
        old_high, new_high = _upper(old), _upper(new)
        if old_high != new_high:
            lowered = (new_high[0], not new_high[1]) < (old_high[0], not old_high[1])
            self.report(
                breaks_backward=lowered,
                breaks_forward=not lowered,
                message=f"maximum of {where} {'lowered' if lowered else 'raised'} from "
                f"{_show_bound(old_high)} to {_show_bound(new_high)} "
                f"({_BACKWARD if lowered else _FORWARD})",
            )
        for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            old_n, new_n = _number(old.get(key)), _number(new.get(key))
            default = 0.0 if key in _LOWER_BOUNDS else math.inf
            old_n, new_n = default if old_n is None else old_n, default if new_n is None else new_n
            if old_n != new_n:
                stricter = new_n > old_n if key in _LOWER_BOUNDS else new_n < old_n
                self.report(
                    breaks_backward=stricter,
                    breaks_forward=not stricter,
                    message=f"{key} of {where} changed from {_show_bound((old_n, False))} to "
                    f"{_show_bound((new_n, False))} ({_BACKWARD if stricter else _FORWARD})",
                )
        for key in (*_EXACT_KEYWORDS, "multipleOf"):
            old_v, new_v = old.get(key), new.get(key)
            if old_v != new_v:
                self.report(
                    breaks_backward=new_v is not None,
                    breaks_forward=old_v is not None,
                    message=f"{key} of {where} changed from {json.dumps(old_v)} to "
                    f"{json.dumps(new_v)}",
                )
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            turned_on = bool(new.get("uniqueItems"))
            self.report(
                breaks_backward=turned_on,
                breaks_forward=not turned_on,
                message=f"uniqueItems of {where} turned {'on' if turned_on else 'off'}",
            )

    def _objects(self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int) -> None:
        old_required, new_required = _names(old.get("required")), _names(new.get("required"))
        old_props, new_props = _mapping(old.get("properties")), _mapping(new.get("properties"))
        old_closed = old.get("additionalProperties") is False
        new_closed = new.get("additionalProperties") is False
        for name in sorted(new_required - old_required):
            self.report(
                breaks_backward=True,
                breaks_forward=False,
                message=f"required field {_join(path, name)!r} added (old producers do not "
                "send it)",
            )
        for name in sorted(old_required - new_required):
            kept = "made optional" if name in new_props else "removed"
            self.report(
                breaks_backward=False,
                breaks_forward=True,
                message=f"required field {_join(path, name)!r} {kept} (old consumers require it)",
            )
        for name in sorted(set(old_props) - set(new_props)):
            if new_closed:
                self.report(
                    breaks_backward=True,
                    breaks_forward=False,
                    message=f"field {_join(path, name)!r} removed (old producers send it and "
                    "undeclared fields are refused)",
                )
            if name not in old_required - new_required:  # else named as a required field removed
                self.report(
                    breaks_backward=False,
                    breaks_forward=not new_closed,
                    message=f"field {_join(path, name)!r} removed (new producers may send any "
                    "value under its name; old consumers check it against its old schema)",
                )
        old_extra = old.get("additionalProperties")
        for name in sorted(set(new_props) - set(old_props)):
            if old_closed:
                self.report(
                    breaks_backward=False,
                    breaks_forward=True,
                    message=f"field {_join(path, name)!r} added, but old consumers refuse "
                    "undeclared fields (additionalProperties: false)",
                )
            elif isinstance(old_extra, dict):
                self.compare(old_extra, new_props[name], _join(path, name), depth + 1)
        for name in sorted(set(old_props) & set(new_props)):
            self.compare(old_props[name], new_props[name], _join(path, name), depth + 1)
        where = f"field {path!r}" if path else "the payload"
        if new_closed and not old_closed:
            self.report(
                breaks_backward=True,
                breaks_forward=False,
                message=f"additionalProperties: false added to {where} (old producers may "
                "send undeclared fields)",
            )
        elif old_closed and not new_closed:
            self.report(
                breaks_backward=False,
                breaks_forward=True,
                message=f"additionalProperties: false removed from {where} (old consumers "
                "refuse undeclared fields)",
            )
        elif isinstance(old_extra, dict) or isinstance(new.get("additionalProperties"), dict):
            self.compare(
                old_extra if isinstance(old_extra, dict) else {},
                new.get("additionalProperties") or {},
                f"{path}.*" if path else "*",
                depth + 1,
            )


def _resolve(schema: Any, root: Any) -> Any:
    """Follow local `$ref`s and single-schema `allOf` wrappers (as older pydantic emits)."""
    for _ in range(32):
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        all_of = schema.get("allOf")
        if isinstance(ref, str) and ref.startswith("#"):
            target: Any = root
            for part in ref[2:].split("/") if ref != "#" else []:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    return schema
                target = target[part]
            schema = target
        elif isinstance(all_of, list) and len(all_of) == 1 and "type" not in schema:
            schema = all_of[0]
        else:
            return schema
    return schema


def _types(schema: Any, root: Any, depth: int) -> frozenset[str]:
    schema = _resolve(schema, root)
    if not isinstance(schema, dict) or depth > 8:
        return frozenset()
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(str(t) for t in declared)
    branches = _branches(schema)
    if branches is not None:
        found: set[str] = set()
        for branch in branches:
            types = _types(branch, root, depth + 1)
            if not types:
                return frozenset()  # a branch of unknown type: cannot compare
            found |= types
        return frozenset(found)
    return frozenset()


def _branches(schema: dict[str, Any]) -> list[Any] | None:
    branches = schema.get("anyOf") or schema.get("oneOf")
    return branches if isinstance(branches, list) else None


def _within(types: frozenset[str], others: frozenset[str]) -> bool:
    """Whether every value of `types` is a value of `others` (an integer is a number)."""
    return all(t in others or (t == "integer" and "number" in others) for t in types)


def _overlap(types: frozenset[str], others: frozenset[str]) -> bool:
    numbers = {"integer", "number"}
    return bool(types & others) or (bool(types & numbers) and bool(others & numbers))


def _unconstrained(schema: dict[str, Any]) -> bool:
    return not (_UNCONSTRAINED_WITHOUT & set(schema))


def _allowed_values(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The values `enum`/`const` allow, keyed by canonical JSON (None when unrestricted)."""
    if "const" in schema:
        values = [schema["const"]]
    elif isinstance(schema.get("enum"), list):
        values = schema["enum"]
    else:
        return None
    return {json.dumps(v, sort_keys=True): v for v in values}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _lower(schema: dict[str, Any]) -> tuple[float, bool]:
    """The lower bound as (value, exclusive); an exclusive bound is stricter than an inclusive
    one at the same value."""
    bounds = [(-math.inf, False)]
    if (value := _number(schema.get("minimum"))) is not None:
        bounds.append((value, False))
    if (value := _number(schema.get("exclusiveMinimum"))) is not None:
        bounds.append((value, True))
    return max(bounds)


def _upper(schema: dict[str, Any]) -> tuple[float, bool]:
    """The upper bound as (value, exclusive)."""
    bounds = [(math.inf, False)]
    if (value := _number(schema.get("maximum"))) is not None:
        bounds.append((value, False))
    if (value := _number(schema.get("exclusiveMaximum"))) is not None:
        bounds.append((value, True))
    return min(bounds, key=lambda b: (b[0], not b[1]))


def _show_bound(bound: tuple[float, bool]) -> str:
    value, exclusive = bound
    if math.isinf(value):
        return "none"
    shown = str(int(value)) if value.is_integer() else str(value)
    return f"{shown} (exclusive)" if exclusive else shown


def _show_types(types: frozenset[str]) -> str:
    return "|".join(sorted(types))


def _show_values(values: dict[str, Any]) -> str:
    return ", ".join(sorted(values))


def _names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
