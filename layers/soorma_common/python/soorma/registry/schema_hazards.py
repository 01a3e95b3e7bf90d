"""Schemas that are valid JSON Schema but would hang or crash every payload check of an event.

Two hazards, refused where a schema enters the registry (`schemas.check_schema`):

- a `$ref` cycle that consumes no data: `#/definitions/a` -> `#/definitions/b` -> `#/definitions/a`,
  a property whose `$ref` is itself, or an `allOf` / `anyOf` / `oneOf` / `not` / `if` / `then` /
  `else` / `dependencies` branch that leads back to where it started through `$ref`s. Validating
  any payload then recurses forever. A `$ref` reached through `properties`, `items` and the like
  is ordinary recursion (a tree of nodes) and is accepted: each step consumes a level of data.
- a regex (`pattern`, the keys of `patternProperties`) with nested quantifiers: a repeated group
  that itself holds a repetition, as in `^(a+)+$` or `^(\\w*\\s?)*$`. Python's `re` backtracks,
  and such a pattern can take exponential time to reject a short string. This is a heuristic,
  not a proof: it refuses some patterns that are safe in practice (`^([a-z]+-)*[a-z]+$`) and
  misses other slow ones (overlapping alternatives such as `^(a|aa)+$`). Rewrite a refused
  pattern without the nesting, or check the value in the handler.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

#: Keywords whose subschemas apply to the very value the schema checks (no data consumed).
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE_SCHEMAS = ("not", "if", "then", "else")
_BRACES = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")


def pointer_part(key: str) -> str:
    """A key as one part of a JSON Pointer (RFC 6901: `~` -> `~0`, `/` -> `~1`)."""
    return key.replace("~", "~0").replace("/", "~1")


def resolve(pointer: str, root: Any) -> tuple[Any, str | None]:
    """The node at a JSON Pointer (`/definitions/a`; `` for the root) and None, or None and
    the first part that names nothing."""
    node = root
    for raw in pointer.split("/")[1:] if pointer else ():
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None, part
    return node, None


def _in_place(pointer: str, root: Any) -> Iterator[str]:
    """The pointers of the schemas applied to the same value as the schema at `pointer`."""
    node, _ = resolve(pointer, root)
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str):  # draft-07: a `$ref` replaces its siblings
        if ref == "#" or ref.startswith("#/"):
            yield unquote(ref[1:])
        return
    for key in _IN_PLACE_LISTS:
        branches = node.get(key)
        if isinstance(branches, list):
            yield from (f"{pointer}/{key}/{i}" for i in range(len(branches)))
    for key in _IN_PLACE_SCHEMAS:
        if isinstance(node.get(key), dict):
            yield f"{pointer}/{key}"
    dependencies = node.get("dependencies")
    if isinstance(dependencies, dict):
        for name, value in dependencies.items():
            if isinstance(value, dict):
                yield f"{pointer}/dependencies/{pointer_part(str(name))}"


def ref_cycle(root: Any, holders: list[str]) -> list[str] | None:
    """A cycle of schemas applied in place that passes through a `$ref` (as JSON Pointers, the
    first repeated at the end), or None. `holders`: the pointers of the objects holding a
    `$ref` (every such cycle passes through one). Iterative: deep schemas cannot overflow."""
    done: set[str] = set()
    for start in holders:
        if start in done:
            continue
        path, on_path = [start], {start}
        pending = [_in_place(start, root)]
        while pending:
            target = next(pending[-1], None)
            if target is None:
                pending.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
            elif target in on_path:
                return [*path[path.index(target) :], target]
            elif target not in done:
                path.append(target)
                on_path.add(target)
                pending.append(_in_place(target, root))
    return None


def patterns(root: Any) -> Iterator[tuple[str, str]]:
    """Every regex in a schema (`pattern` values, `patternProperties` keys) with the JSON
    Pointer of its keyword. Iterative: deep schemas cannot overflow."""
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        pointer, node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                yield f"{pointer}/pattern", node["pattern"]
            if isinstance(node.get("patternProperties"), dict):
                for key in node["patternProperties"]:
                    yield f"{pointer}/patternProperties", str(key)
            stack.extend((f"{pointer}/{pointer_part(str(k))}", v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{pointer}/{i}", v) for i, v in enumerate(node))


def has_nested_quantifier(pattern: str) -> bool:
    """Whether `pattern` repeats (`*`, `+`, `{m,}`, `{m,n}` with n > 1) a group that itself
    holds such a repetition: `(a+)+`, `(a*b)*`, `((ab)+c){2,}`. `?` and `{0,1}` do not count."""
    inner = [False]  # per open group: whether it holds a repetition
    last_group: bool | None = None  # the previous atom was a group: whether it held one
    after_atom = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        repeat = _repetition(pattern, i) if after_atom else None
        if repeat is not None:
            many, width = repeat
            if many:
                if last_group:
                    return True
                inner[-1] = True
            i += width
            if i < len(pattern) and pattern[i] in "?+":  # lazy or possessive
                i += 1
            last_group, after_atom = None, False
            continue
        last_group, after_atom = None, True
        if char == "\\":
            i += 2
        elif char == "[":
            i = _class_end(pattern, i)
        elif char == "(":
            inner.append(False)
            after_atom = False
            i += 3 if pattern.startswith("(?", i) else 1  # `(?:`, `(?=`, `(?P<`: not repeats
        elif char == ")" and len(inner) > 1:
            held = inner.pop()
            inner[-1] = inner[-1] or held
            last_group = held
            i += 1
        else:
            i += 1
    return False


def _repetition(pattern: str, i: int) -> tuple[bool, int] | None:
    """The quantifier at `i`: (whether it may repeat more than once, its width), or None."""
    char = pattern[i]
    if char in "*+":
        return True, 1
    if char == "?":
        return False, 1
    if char == "{":
        found = _BRACES.match(pattern, i)
        if found and (found.group(1) or found.group(3)):
            low, comma, high = found.groups()
            many = (not high or int(high) > 1) if comma else int(low) > 1
            return many, found.end() - i
    return None


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class `[...]` opening at `i`."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1
