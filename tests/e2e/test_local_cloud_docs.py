"""The first code block of docs/local-cloud.md runs as written (from the repository root)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_pages_first_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = (ROOT / "docs" / "local-cloud.md").read_text()
    block = re.findall(r"```python\n(.*?)```", page, flags=re.S)[0]
    monkeypatch.chdir(ROOT)
    # the state folder of the example goes to a tmp dir, not into the repository
    block = block.replace("time_scale=0.1)", f"time_scale=0.1, state_dir={str(tmp_path)!r})")
    assert "state_dir" in block
    namespace: dict[str, object] = {"__name__": "local_cloud_docs"}
    exec(compile(block, "docs/local-cloud.md", "exec"), namespace)
    assert namespace["roots"], "the example's trace is empty"
