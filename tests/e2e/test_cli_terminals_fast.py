"""The other terminals' commands (`soorma send`, `trace`, `dlq list|show|redrive`) against
`soorma dev --fast`: the tests of `test_cli_terminals.py`, imported unchanged, on a local cloud
in the fast mode; and the one refusal (`--http-port`: the front door is the faithful mode's)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_cli_terminals import (
    REPO,
    SOORMA,
    STATE_FILE,
    soorma,
    test_send_trace_and_dead_letters_from_other_terminals,
    test_unknown_correlation_id_is_an_error_not_a_traceback,
)

__all__ = [
    "test_send_trace_and_dead_letters_from_other_terminals",
    "test_unknown_correlation_id_is_an_error_not_a_traceback",
]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`soorma dev examples/poison-message --fast` running in the background."""
    cwd = tmp_path_factory.mktemp("terminal-fast")
    log = (cwd / "dev.log").open("w")
    scenario = REPO / "examples" / "poison-message"
    process = subprocess.Popen(
        [*SOORMA, "dev", str(scenario), "--fast", "--time-scale", str(1 / 180)],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while not (cwd / STATE_FILE).exists():
        assert process.poll() is None, (cwd / "dev.log").read_text()
        assert time.monotonic() < deadline, "soorma dev --fast did not start in 120 s"
        time.sleep(0.1)
    try:
        yield {"cwd": cwd, "process": process, "log": cwd / "dev.log"}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def test_the_cloud_runs_in_the_fast_mode(running: dict[str, Any]) -> None:
    printed = " ".join(running["log"].read_text().split())  # rich folds lines to the terminal
    assert "(fast mode: bus, queues and claims in SQLite)" in printed
    assert '"fast_database": "' in (running["cwd"] / STATE_FILE).read_text()


def test_the_front_door_is_refused_in_the_fast_mode(tmp_path) -> None:
    agent = REPO / "examples" / "hello-world" / "greeter"
    done = soorma("dev", str(agent), "--fast", "--http-port", "8123", cwd=tmp_path)
    assert done.returncode == 2
    assert "the front door runs only in the faithful mode" in done.stderr
    assert "Traceback" not in done.stderr
