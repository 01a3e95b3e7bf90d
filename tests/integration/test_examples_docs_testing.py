"""The code on docs/testing.md runs: each `python` block is a test module, run by pytest in a
child process from the repository root, with the `soorma` plugin loaded from its entry point
(as in a user's project)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_testing_page_code_passes_under_pytest(tmp_path: Path) -> None:
    blocks = BLOCK.findall((ROOT / "docs" / "testing.md").read_text())
    assert len(blocks) == 3
    for number, block in enumerate(blocks, 1):
        (tmp_path / f"test_docs_testing_{number}.py").write_text(block)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/soorma_common/python"), str(ROOT)]),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"\b7 passed\b", done.stdout), done.stdout[-2000:]
