"""Walks over JSON values (dicts, lists, strings, numbers) that no store or bus could take as
they are: nesting deeper than a limit, text UTF-8 cannot encode (a lone surrogate, such as
`json.loads` makes of `"\\ud800"`). Iterative, so a value nested thousands deep is measured
rather than overflowing Python's stack."""

from __future__ import annotations

from typing import Any


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels (`{"a": 1}` is 1)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children)
    return False


def first_non_utf8(value: Any) -> str | None:
    """Where in `value` a string or a key is not encodable as UTF-8 (`""` for `value` itself,
    `" at /properties/note"` inside: a JSON Pointer, escaped), or None when every one is."""
    # Each node keeps its parent's link and its own key: the path is spelled only when found
    # (building it per node would cost the square of the depth).
    stack: list[tuple[Any, Any]] = [(value, None)]
    while stack:
        node, link = stack.pop()
        if isinstance(node, str):
            if not node.isascii():
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    return _spelled(link)
        elif isinstance(node, dict):
            for key, inner in node.items():
                stack.append((key, (link, key)))
                stack.append((inner, (link, key)))
        elif isinstance(node, list | tuple):
            stack.extend((inner, (link, index)) for index, inner in enumerate(node))
    return None


def _spelled(link: Any) -> str:
    parts = []
    while link is not None:
        link, key = link
        parts.append(str(key))
    where = "".join(f"/{part}" for part in reversed(parts))
    return f" at {where.encode('utf-8', 'backslashreplace').decode()}" if where else ""
