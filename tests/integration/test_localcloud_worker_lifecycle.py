"""A local cloud worker stopped and started on purpose while its supervisor watches it.

The supervisor restarts a worker that died; a caller (a test deploying a fix, `soorma dev`
reloading code) stops and starts one on purpose. Both at once once left two processes for one
worker and a `stop()` blocked for ever on the pipe of the process the supervisor had started.
Real worker processes, no queues (nothing to pump), no AWS.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from soorma_dev.localcloud.supervisor import WorkerSupervisor
from soorma_dev.localcloud.worker import WorkerSpec
from soorma_dev.localcloud.workers import WorkerProcess

AGENT = """
from soorma import Agent

agent = Agent("idle")
handler = agent.lambda_handler
"""


def worker_pids(spec_path: Path) -> list[int]:
    """The running processes whose command line names this worker's spec."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if str(spec_path).encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def test_stopping_and_starting_a_watched_worker_leaves_exactly_one_process(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "idle"
    folder.mkdir()
    (folder / "handler.py").write_text(AGENT)
    spec = WorkerSpec(
        agent="idle",
        path=str(folder),
        function_name="idle",
        queues=[],
        activity_path=str(tmp_path / "activity.jsonl"),
        timeout_seconds=5.0,
        wait_seconds=0,
    )
    (tmp_path / "run").mkdir()
    worker = WorkerProcess(spec, {}, tmp_path / "run")  # its environment: child_environment
    worker.start()
    worker.wait_ready(time.monotonic() + 60)
    supervisor = WorkerSupervisor([worker], report=lambda _line: None)
    watching = threading.Event()

    def watch() -> None:  # as the supervisor's thread, without its pause between checks
        while not watching.is_set():
            supervisor.check_once()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for _ in range(4):  # what a test deploying a fix does: stop, change, start
            worker.stop()
            worker.env = {**worker.env, "FIXED": "1"}
            worker.start()
            worker.wait_ready(time.monotonic() + 60)
        watching.set()
        watcher.join()
        assert worker.alive()
        assert worker_pids(worker.spec_path) == [worker.process.pid]
    finally:
        watching.set()
        worker.stop()
    assert worker_pids(worker.spec_path) == []
