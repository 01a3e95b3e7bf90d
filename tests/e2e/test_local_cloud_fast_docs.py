"""The fast mode's example in docs/local-cloud.md ("The fast mode") runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_fast_mode_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = (ROOT / "docs" / "local-cloud.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", page, flags=re.S) if "fast=True" in b]
    monkeypatch.chdir(ROOT)
    block = block.replace("fast=True)", f"fast=True, state_dir={str(tmp_path)!r})")
    assert "state_dir" in block
    namespace: dict[str, object] = {"__name__": "local_cloud_fast_docs"}
    exec(compile(block, "docs/local-cloud.md", "exec"), namespace)
    assert namespace["roots"], "the example's trace is empty"
    assert (tmp_path / "run" / "fast.sqlite3").is_file()
