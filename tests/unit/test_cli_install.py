"""`make install` says what it does while it runs (it takes minutes from scratch) and, at the
end, where `soorma` lives (`.venv/bin`) and how to put it on the PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_fresh_install_announces_each_step(tmp_path: Path) -> None:
    planned = make("-n", "install", f"VENV={tmp_path / 'venv'}")
    assert planned.returncode == 0, planned.stderr
    steps = [line for line in planned.stdout.splitlines() if line.startswith('echo "[')]
    assert [step.split("]")[0] for step in steps] == [
        'echo "[1/4',
        'echo "[2/4',
        'echo "[3/4',
        'echo "[4/4',
    ]
    assert "set -o pipefail" in planned.stdout  # a failing pip still fails the install


def test_install_says_where_soorma_lives(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    stamp = venv / ".installed"
    stamp.touch()
    newest = max(
        (REPO / name).stat().st_mtime
        for name in ("requirements-dev.txt", "pyproject.toml", "package.json", "package-lock.json")
    )
    os.utime(stamp, (newest + 60, newest + 60))  # installed after the last change

    done = make("install", f"VENV={venv}")

    assert done.returncode == 0, done.stderr
    assert f"soorma is installed in {venv}/bin" in done.stdout
    assert f"source {venv}/bin/activate" in done.stdout
