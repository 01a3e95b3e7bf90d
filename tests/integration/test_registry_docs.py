"""docs/registry.md runs: its `python` blocks in order, in one namespace, on moto; its Mermaid
graph is what `soorma graph` prints; its LLM text is what `format_for_llm` prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from soorma.registry import Catalog
from soorma_dev.graph import mermaid_graph

PAGE = Path(__file__).resolve().parents[2] / "docs" / "registry.md"


def fenced(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", PAGE.read_text(), re.MULTILINE | re.DOTALL)


def test_registry_page_runs_and_shows_what_the_code_prints() -> None:
    blocks = fenced("python")
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"__name__": "docs_registry"}
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            for number, block in enumerate(blocks, 1):
                exec(compile(block, f"docs/registry.md#block{number}", "exec"), namespace)
    finally:
        if "moto" in namespace:
            namespace["moto"].stop()  # type: ignore[attr-defined]

    [mermaid] = fenced("mermaid")
    assert mermaid == namespace["graph"]
    manifests = [namespace["orders"].manifest(), namespace["inventory"].manifest()]  # type: ignore[attr-defined]
    assert mermaid == mermaid_graph(Catalog.from_manifests(manifests))

    llm_text = next(t for t in fenced("text") if t.startswith("- inventory.reserve"))
    assert printed.getvalue() == llm_text
