"""Rooms that fit their job: no module of the layer, the CDK code, the functions or the dev tools
grows past 400 lines (split it by job when it would)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("layers", "infra", "functions", "soorma_dev")
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    modules = [path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(modules) > 50, "the walk found too few modules: check FOLDERS"
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
