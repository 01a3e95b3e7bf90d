"""The local cloud's speed patches to moto change nothing a client can see.

The same script of DynamoDB, SQS and EventBridge calls runs on moto (in-process `mock_aws`) in two
child processes, one with `soorma_dev.localcloud.moto_patches.apply_all()` and one without (the
patches are process-wide), and both must print the same results: items, responses and error
codes and messages, with each expression sent several times so the memoized paths are hit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soorma_dev.localcloud.moto_patches import SUPPORTED_MOTO_VERSIONS
from soorma_dev.localcloud.processes import child_environment
from soorma_dev.localcloud.server import MotoServer, MotoServerError

PROBE = Path(__file__).with_name("moto_patches_probe.py")


def run(mode: str) -> list[Any]:
    """The script's results in a fresh process (`patched` or `plain`)."""
    done = subprocess.run(
        [sys.executable, str(PROBE), mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_environment({"AWS_DEFAULT_REGION": "us-east-1"}),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: list[Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def results() -> tuple[list[Any], list[Any]]:
    return run("plain"), run("patched")


def test_patched_moto_answers_exactly_as_plain_moto(results: tuple[list[Any], list[Any]]) -> None:
    plain, patched = results
    assert len(plain) == len(patched)
    for expected, actual in zip(plain, patched, strict=True):
        assert actual == expected


def test_the_script_exercises_failures_and_successes(results: tuple[list[Any], list[Any]]) -> None:
    plain, _ = results
    outcomes = {(r[0], r[1]) for r in plain if len(r) > 2}
    assert ("claim", "ok") in outcomes and ("claim", "error") in outcomes
    assert ("update-0", "ok") in outcomes and ("update-5", "error") in outcomes
    assert ("put-if-0", "ok") in outcomes and ("put-if-0", "error") in outcomes
    assert ("delete-unknown", "error") in outcomes


def test_the_server_refuses_an_unchecked_moto_in_one_line_and_runs_without_patches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `moto-9.9.9.dist-info` ahead of site-packages makes the server child see moto 9.9.9
    (the code imported is still the real moto): with patches it exits with 2 and the one-line
    reason as the last line of its log; without patches it starts."""
    fake = tmp_path / "site" / "moto-9.9.9.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: moto\nVersion: 9.9.9\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake.parent), *sys.path]))
    log = tmp_path / "moto.log"

    with pytest.raises(MotoServerError, match="exited with 2"):
        MotoServer(log_path=log).start(timeout=60)
    last = log.read_text().strip().splitlines()[-1]
    assert last.startswith("moto 9.9.9 is installed, but the local cloud's moto patches")
    assert f"checked against moto {', '.join(SUPPORTED_MOTO_VERSIONS)} only" in last

    plain = MotoServer(log_path=log, patches=False)
    try:
        assert plain.start(timeout=60).startswith("http://127.0.0.1:")
    finally:
        plain.stop()
