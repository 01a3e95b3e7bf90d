"""The poison-message example's second act, as a person does it with `soorma dev` running:
the order is dead-lettered, the handler's code is fixed and saved, the agent's worker reloads
(the local cloud, its queues, dead letters and trace stay), `soorma dlq redrive` sends the
order back, and it is handled under its original correlation id."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SOORMA = [sys.executable, "-m", "soorma_dev"]
THE_FIX = ('os.environ.get("POISON_FIXED") == "1" and ', "")  # the fix, as an edit of the code


def soorma(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SOORMA, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def poll(check: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_fix_the_code_then_redrive_without_restarting(tmp_path: Path) -> None:
    example = tmp_path / "poison-message"
    shutil.copytree(REPO / "examples" / "poison-message", example)
    handler = example / "order-validator" / "handler.py"
    assert THE_FIX[0] in handler.read_text()
    readme = (example / "README.md").read_text()
    assert f"`{THE_FIX[0]}`" in readme  # the README tells this very edit
    log_path = tmp_path / "dev.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*SOORMA, "dev", str(example), "--time-scale", "0.005"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "POISON_FIXED"}
            | {"PYTHONUNBUFFERED": "1"},
        )
        try:
            poll(
                lambda: (tmp_path / ".soorma" / "local.json").exists() or process.poll(),
                "soorma dev to start",
                timeout=120,
            )
            assert process.poll() is None, log_path.read_text()
            _act_two(tmp_path, handler, log_path)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def _act_two(cwd: Path, handler: Path, log_path: Path) -> None:
    sent = soorma(
        "send", "order.placed", "--topic", "business-facts",
        "--data", '{"order_id": "o-poison", "total": "12,50"}', "--json", cwd=cwd,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    correlation = json.loads(sent.stdout)["correlationid"]

    def dead_letters() -> list[dict[str, Any]]:
        listed = soorma("dlq", "list", "--agent", "order-validator", "--json", cwd=cwd)
        assert listed.returncode == 0, listed.stderr
        return list(json.loads(listed.stdout))

    poll(lambda: len(dead_letters()) == 1, "the poison order in the DLQ")

    handler.write_text(handler.read_text().replace(*THE_FIX))  # fix the code, save
    poll(
        lambda: "order-validator: code changed; worker reloaded" in log_path.read_text(),
        "the worker to reload",
    )
    redriven = poll(
        lambda: (
            (done := soorma("dlq", "redrive", "--agent", "order-validator", cwd=cwd))
            and "redriven 1 dead letter(s)" in done.stdout
            and done
        ),
        "the redrive",
    )
    assert redriven.returncode == 0
    trace = poll(
        lambda: (
            (done := soorma("trace", correlation, cwd=cwd)).returncode == 0
            and "order.validated" in done.stdout
            and done
        ),
        "the redriven order to be validated",
    )
    assert "✘ order-validator dead-lettered" in trace.stdout  # before the fix
    assert "✔ order-validator handled" in trace.stdout  # after it
    assert dead_letters() == []
    assert re.search(r"order\.placed\s+order-validator\s+handled", log_path.read_text())
