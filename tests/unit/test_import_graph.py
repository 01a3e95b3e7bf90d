"""The layer's import graph has no cycle, and its arrows point the way the architecture says.

Every module of the layer (`soorma`, `soorma_common`) is parsed, not imported, and every import
statement in it counts, wherever it is: at module level, inside a function (lazy imports), and
under `if TYPE_CHECKING:`. `from x import y` is an edge to `x.y` when `x.y` is a module of the
layer, else to `x`; importing `a.b.c` adds no edge to the packages `a` and `a.b` (Python runs
their `__init__` too, but those edges are already in the graph when they import anything).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[2] / "layers" / "soorma_common" / "python"
PACKAGES = ("soorma", "soorma_common")


def module_name(path: Path) -> str:
    """`soorma/agents/base.py` -> `soorma.agents.base`; a package's `__init__.py` -> the package."""
    parts = list(path.relative_to(LAYER).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_modules() -> dict[str, Path]:
    """Every module of the layer by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((LAYER / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = layer_modules()


def imported_names(name: str, path: Path) -> Iterator[str]:
    """The dotted names a module imports (every import statement anywhere in it)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in MODULES else base


def import_graph() -> dict[str, set[str]]:
    """Module -> the layer's modules it imports."""
    return {
        name: {target for target in imported_names(name, path) if target in MODULES} - {name}
        for name, path in MODULES.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_walk_sees_every_kind_of_import() -> None:
    """The graph holds a module-level, a function-local and a TYPE_CHECKING edge we know of."""
    graph = import_graph()
    assert "soorma.agent_spec" in graph["soorma.context"]  # module level
    assert "soorma.runtime" in graph["soorma.agents.base"]  # in `Agent.runtime` (lazy)
    assert "soorma.registry.validation" in graph["soorma.publishing"]  # lazy
    assert "soorma.clients" in graph["soorma.memory.table"]  # `from soorma import clients`
    assert (
        "soorma.memory.keys" in graph["soorma.workflows.fanin"]
    )  # `from soorma.memory import keys`
    assert "soorma.memory" not in graph["soorma.workflows.fanin"]  # no implicit parent edge


def test_find_cycle_names_the_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_layer() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_soorma_common_imports_nothing_of_soorma() -> None:
    graph = import_graph()
    wrong = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source.split(".")[0] == "soorma_common"
        for target in targets
        if target.split(".")[0] == "soorma"
    )
    assert wrong == []


def test_agents_to_runtime_is_the_one_upward_edge() -> None:
    """Only `soorma.agents.base` (to run itself) imports the runtime from outside it."""
    graph = import_graph()
    into_runtime = sorted(
        source
        for source, targets in graph.items()
        if not source.startswith("soorma.runtime")
        and any(t == "soorma.runtime" or t.startswith("soorma.runtime.") for t in targets)
    )
    assert into_runtime == ["soorma.agents.base"]


def test_memory_is_storage_only() -> None:
    """`soorma.workflows` builds on `soorma.memory`, never the other way round."""
    graph = import_graph()
    wrong = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source.startswith("soorma.memory")
        for target in targets
        if target.split(".")[:2] in (["soorma", "workflows"], ["soorma", "context"])
        or target.startswith("soorma.agents")
    )
    assert wrong == []


def test_the_contract_s_declaration_models_load_on_first_use() -> None:
    import soorma_common
    from soorma_common import definitions, manifest, subscription

    assert soorma_common.AgentManifest is manifest.AgentManifest
    assert soorma_common.EventDefinition is definitions.EventDefinition
    assert soorma_common.Subscription is subscription.Subscription is manifest.Subscription
    assert {"AgentManifest", "EventDefinition", "EventEnvelope"} <= set(dir(soorma_common))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = soorma_common.Nope  # type: ignore[attr-defined]
