"""The `soorma` CLI as a person runs it: each command a separate process, as in separate terminals.

- The README's main command (`make demo`: `soorma dev examples --scenario order-fanout`) runs
  the scenario on a fresh local cloud, prints its trace tree and exits 0.
- `soorma dev PATH` (here a scenario folder, without --once) keeps running and prints a live
  line per handling; `soorma send`, `soorma trace` and `soorma dlq list|show|redrive` talk to
  it from other processes; Ctrl-C stops it cleanly (its state file is removed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SOORMA = [sys.executable, "-m", "soorma_dev"]
STATE_FILE = Path(".soorma") / "local.json"


def soorma(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one `soorma` command in its own process and return what it printed."""
    return subprocess.run(
        [*SOORMA, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def demo_command() -> list[str]:
    """The `soorma ...` arguments of the Makefile's `demo` target (what the README tells)."""
    makefile = (REPO / "Makefile").read_text()
    match = re.search(r"^demo:.*\n\t\$\(VENV\)/bin/soorma (.+)$", makefile, re.MULTILINE)
    assert match, "the Makefile's demo target must run `$(VENV)/bin/soorma ...`"
    return match.group(1).split()


def test_the_demo_command_runs_a_scenario_and_prints_its_trace(tmp_path: Path) -> None:
    args = demo_command()
    shutil.copytree(REPO / "examples", tmp_path / "examples")  # as in a fresh checkout
    done = soorma(*args, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "local cloud running at http://127.0.0.1:" in out
    assert re.search(r"^trace [0-9a-f-]{36}$", out, re.MULTILINE)
    assert "order.placed  [business-facts]  from soorma.cli" in out
    for agent in ("inventory", "notifier", "audit-log"):
        assert f"✔ {agent} handled" in out
    assert "stock.reserved  [action-results]  from soorma.warehouse" in out
    assert "every expectation met" in out
    assert "Traceback" not in done.stderr
    assert not (tmp_path / STATE_FILE).exists()  # stopped cleanly


def test_a_scenario_whose_expectations_fail_exits_non_zero(tmp_path: Path) -> None:
    scenario = tmp_path / "hello-world"
    shutil.copytree(REPO / "examples" / "hello-world", scenario)
    spec = json.loads((scenario / "scenario.json").read_text())
    spec["expect"]["handled"].append(["greeter", "visitor.arrived"])
    (scenario / "scenario.json").write_text(json.dumps(spec))

    done = soorma("dev", str(scenario), "--once", cwd=tmp_path)
    assert done.returncode == 1
    assert "missing handling: ('greeter', 'visitor.arrived')" in done.stderr
    assert "greeting.composed" in done.stdout  # the trace is printed all the same


# ---- a running local cloud and the other terminals ---------------------------------------------


@contextmanager
def background_dev(cwd: Path, *options: str) -> Iterator[dict[str, Any]]:
    """`soorma dev examples/poison-message [options]` running in the background in `cwd`,
    until the block ends (then Ctrl-C)."""
    log = (cwd / "dev.log").open("w")
    scenario = REPO / "examples" / "poison-message"
    process = subprocess.Popen(
        [*SOORMA, "dev", str(scenario), *options, "--time-scale", str(1 / 180)],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while not (cwd / STATE_FILE).exists():
        assert process.poll() is None, (cwd / "dev.log").read_text()
        assert time.monotonic() < deadline, f"soorma dev {' '.join(options)} did not start in 120 s"
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


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`soorma dev examples/poison-message` running in the background, as its README says."""
    with background_dev(tmp_path_factory.mktemp("terminal")) as cloud:
        yield cloud


def poll(check: Any, what: str, timeout: float = 60) -> Any:
    """Call `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_send_trace_and_dead_letters_from_other_terminals(running: dict[str, Any]) -> None:
    cwd = running["cwd"]
    good = soorma(
        "send", "order.placed", "--topic", "business-facts", "--tenant", "acme", "--user",
        "u-1", "--data", '{"order_id": "o-good", "total": "3.50"}', "--json", cwd=cwd,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    good_event = json.loads(good.stdout)
    assert good_event["tenantid"] == "acme"

    order = cwd / "poison.json"
    order.write_text(json.dumps({"order_id": "o-poison", "total": "3,50"}))
    poison = soorma(
        "send", "order.placed", "--topic", "business-facts", "--data", f"@{order}", cwd=cwd
    )
    assert poison.returncode == 0, poison.stderr
    poison_correlation = re.search(r"correlation id (\S+)", poison.stdout).group(1)  # type: ignore[union-attr]

    def dead_letters() -> list[dict[str, Any]]:
        listed = soorma("dlq", "list", "--agent", "order-validator", "--json", cwd=cwd)
        assert listed.returncode == 0, listed.stderr
        return list(json.loads(listed.stdout))

    (letter,) = poll(dead_letters, "the poison order in the DLQ")
    assert letter["kind"] == "permanent-error"
    assert "cannot be read" in letter["reason"]

    validated = "order.validated  [business-facts]  from soorma.order-validator"
    trace = poll(
        lambda: (
            (done := soorma("trace", good_event["correlationid"], cwd=cwd)).returncode == 0
            and validated in done.stdout
            and done
        ),
        "the event log to hold order.validated",
    )
    assert "✔ order-validator handled" in trace.stdout

    trace = soorma("trace", poison_correlation, cwd=cwd)
    assert "✘ order-validator dead-lettered" in trace.stdout
    assert "UnreadableOrderError" in trace.stdout

    shown = soorma("dlq", "show", letter["message_id"][:8], cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    assert "permanent-error" in shown.stdout
    assert '"o-poison"' in shown.stdout

    # Redriven without the fix, the poison order fails again and is back in the DLQ.
    redriven = soorma("dlq", "redrive", letter["message_id"][:8], cwd=cwd)
    assert redriven.returncode == 0, redriven.stderr
    assert "redriven 1 dead letter(s)" in redriven.stdout
    poll(
        lambda: soorma("trace", poison_correlation, cwd=cwd).stdout.count("dead-lettered") == 2,
        "the redriven poison order to be dead-lettered again",
    )
    (again,) = poll(dead_letters, "the poison order back in the DLQ")
    assert again["message_id"] != letter["message_id"]

    live = running["log"].read_text()
    assert "to run the scenario instead: soorma dev" in live  # started, did not run it
    assert re.search(r"business-facts\s+order\.placed\s+order-validator\s+handled", live)
    assert re.search(r"business-facts\s+order\.placed\s+order-validator\s+dead-lettered", live)


def test_unknown_correlation_id_is_an_error_not_a_traceback(running: dict[str, Any]) -> None:
    done = soorma("trace", "no-such-workflow", cwd=running["cwd"])
    assert done.returncode == 1
    assert "no events recorded with correlation id 'no-such-workflow'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_local_cloud_on_the_same_state_is_refused(running: dict[str, Any]) -> None:
    agent = REPO / "examples" / "hello-world" / "greeter"
    done = soorma("dev", str(agent), cwd=running["cwd"])
    assert done.returncode == 2
    assert "a local cloud is already running at http://127.0.0.1:" in done.stderr
    assert running["process"].poll() is None  # the first one is untouched


def test_ctrl_c_stops_the_local_cloud_cleanly(running: dict[str, Any]) -> None:
    process = running["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    log = running["log"].read_text()
    assert "Ctrl-C: stopping the local cloud" in log
    assert "Traceback" not in log
    assert not (running["cwd"] / STATE_FILE).exists()
    after = soorma("dlq", "list", cwd=running["cwd"])
    assert after.returncode == 3
    assert "no local cloud is running" in after.stderr
