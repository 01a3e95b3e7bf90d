"""The runtime types its agent as `AgentSpec`: nothing in `soorma.runtime` (nor the bus and the
publisher it uses) imports `soorma.agents`, at module level, in a function or under
`TYPE_CHECKING`, so the SDK has no cycle through the runtime."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOORMA = Path(__file__).parents[2] / "layers" / "soorma_common" / "python" / "soorma"
MODULES = sorted(
    [
        *(SOORMA / "runtime").glob("*.py"),
        *(SOORMA / name for name in ("bus.py", "publishing.py", "clients.py", "tracing.py")),
        SOORMA / "config.py",
    ]
)


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_the_runtime_imports_nothing_from_the_agents_package(path: Path) -> None:
    found = sorted(
        n for n in imported_modules(path) if n == "soorma.agents" or n.startswith("soorma.agents.")
    )
    assert found == [], f"{path.name} imports {found}"


def test_the_walk_sees_function_local_and_type_checking_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from soorma.agents.base import Agent\n"
        "def f():\n    import soorma.agents\n"
    )
    assert {"soorma.agents.base", "soorma.agents"} <= imported_modules(probe)
