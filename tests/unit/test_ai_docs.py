"""docs/choreography.md runs: its `python` blocks, in order, in one namespace, without AWS."""

from __future__ import annotations

import re
from pathlib import Path

from soorma.ai.providers.bedrock import PERMANENT_CODES, TRANSIENT_CODES

PAGE = Path(__file__).resolve().parents[2] / "docs" / "choreography.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.MULTILINE | re.DOTALL)


def test_choreography_page_code_runs_and_its_assertions_hold() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "docs_choreography"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/choreography.md#block{number}", "exec"), namespace)
    assert all("assert" in block for block in blocks), "every block checks what the page says"
    assert namespace["recorded_answer"] == namespace["offline"].converse(namespace["request"])  # type: ignore[attr-defined]


def test_the_error_table_names_every_mapped_code() -> None:
    table = PAGE.read_text().split("### Errors", 1)[1]
    for code in [*TRANSIENT_CODES, *PERMANENT_CODES]:
        assert f"`{code}`" in table, code
