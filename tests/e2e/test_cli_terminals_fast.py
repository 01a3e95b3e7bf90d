"""The other terminals' commands (`soorma send`, `trace`, `dlq list|show|redrive`) against
`soorma dev --fast`: the tests of `test_cli_terminals.py`, imported unchanged, on a local cloud
in the fast mode; and the one refusal (`--http-port`: the front door is the faithful mode's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_cli_terminals import (
    REPO,
    STATE_FILE,
    background_dev,
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
    with background_dev(tmp_path_factory.mktemp("terminal-fast"), "--fast") as cloud:
        yield cloud


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
