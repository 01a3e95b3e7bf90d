"""The local cloud's speed patches to moto change nothing a client can see.

The same script of DynamoDB, SQS and EventBridge calls runs on moto (in-process `mock_aws`) in two
child processes, one with `soorma_dev.localcloud.patches.apply_all()` and one without (the
patches are process-wide), and both must print the same results: items, responses and error
codes and messages, with each expression sent several times so the memoized paths are hit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from soorma_dev.localcloud.processes import child_environment

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
