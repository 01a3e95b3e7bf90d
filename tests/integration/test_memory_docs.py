"""Every `python` block of docs/memory.md runs, in order, in one namespace, on moto."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "memory.md"


def test_the_memory_page_runs(soorma_moto) -> None:
    soorma_moto()
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 7
    namespace: dict[str, object] = {"__name__": "memory_docs"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
