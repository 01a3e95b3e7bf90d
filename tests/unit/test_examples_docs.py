"""The code on docs/agents.md runs: its `python` blocks, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    """The fenced `python` blocks of a Markdown page, in order."""
    return BLOCK.findall(page.read_text())


def test_agents_page_code_runs_and_its_assertions_hold() -> None:
    blocks = python_blocks(ROOT / "docs" / "agents.md")
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "docs_agents"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/agents.md#block{number}", "exec"), namespace)
    assert "assert" in blocks[-1], "the last block checks what the page says"
