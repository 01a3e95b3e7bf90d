"""What the runtime's cold start imports: `soorma.runtime.handler` reaches, through imports run at
import time, neither the registry package, nor the manifest tooling, nor Powertools' batch
utility, nor the memory package (a handler's `context.memory` brings it), nor asyncio (an async
handler brings it).

The layer is parsed, not imported: an edge counts when it runs at import (module level, `try`
and `if` blocks), not inside a function and not under `if TYPE_CHECKING:`. Importing `a.b.c`
runs `a` and `a.b` too, so their edges count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "soorma_common" / "python"
PACKAGES = ("soorma", "soorma_common")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LAYER).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    module_name(path): path for package in PACKAGES for path in (LAYER / package).rglob("*.py")
}


def top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run at import: nested blocks entered, functions, classes' method
    bodies and `if TYPE_CHECKING:` blocks skipped."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If):
            test = node.test
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                yield from top_level(node.orelse)
                continue
            yield from top_level(node.body)
            yield from top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from top_level(block)
            for handler in node.handlers:
                yield from top_level(handler.body)
        elif isinstance(node, ast.ClassDef):
            yield from top_level(node.body)
        else:
            yield node


def with_parents(name: str) -> Iterator[str]:
    """`a.b.c` -> `a`, `a.b`, `a.b.c` (those of the layer)."""
    parts = name.split(".")
    for n in range(1, len(parts) + 1):
        candidate = ".".join(parts[:n])
        if candidate in MODULES:
            yield candidate


def eager_imports(name: str) -> set[str]:
    """The layer modules (and the outside names) `name` imports when it is imported."""
    path = MODULES[name]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in top_level(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.update(with_parents(alias.name) or [alias.name])
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found.update(with_parents(base))
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    found.add(f"{base}.{alias.name}")
    return found


def import_closure(start: str) -> set[str]:
    """Every name imported, directly or not, when `start` is imported."""
    seen: set[str] = set()
    todo = list(with_parents(start))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in MODULES:
            todo.extend(eager_imports(name) - seen)
    return seen


def test_the_walk_follows_package_inits_and_skips_lazy_imports() -> None:
    closure = import_closure("soorma.context")
    assert "soorma.bus" in closure  # module level
    assert "soorma" in closure  # a parent package's __init__
    assert "soorma.agents" in closure  # through `soorma/__init__.py`
    assert "soorma.memory.client" not in closure  # imported in `PlatformContext.memory`
    assert "soorma.registry.client" in import_closure("soorma.registry.validation")  # __init__


def test_the_runtime_import_path_leaves_out_what_only_tooling_needs() -> None:
    closure = import_closure("soorma.runtime.handler")
    assert "soorma.runtime.records" in closure  # the walk reaches the runtime's own modules
    unwanted = sorted(
        name
        for name in closure
        if name.startswith(
            (
                "soorma.registry",
                "soorma.manifests",
                "soorma.memory",
                "soorma_common.manifest",  # and manifest_reader
                "soorma_common.definitions",
            )
        )
        or name.startswith("aws_lambda_powertools.utilities.batch")
        or name == "asyncio"
    )
    assert unwanted == []
