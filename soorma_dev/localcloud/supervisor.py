"""Worker health: a worker process that died is noticed, reported once, reaped and restarted.

Lambda starts a new execution environment when one dies; the local cloud does the same, so a
worker killed with `kill -9` (or crashed by a native extension) does not leave its queues
filling up unnoticed, nor a zombie process behind.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence

from soorma_dev.localcloud.workers import WorkerError, WorkerProcess

#: How often the workers are checked, in seconds.
CHECK_INTERVAL_SECONDS = 0.2
#: How long a restarted worker may take to pump again.
RESTART_TIMEOUT_SECONDS = 60.0
#: The least time between two restarts of one worker (a worker that dies at once is not
#: restarted in a tight loop).
RESTART_BACKOFF_SECONDS = 1.0


def report_to_stderr(message: str) -> None:
    """The default reporter: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


class WorkerSupervisor:
    """Checks `workers` every `CHECK_INTERVAL_SECONDS` on a thread of its own; `report` gets one
    line per death (`worker X died (signal 9); restarting`) and per failed restart."""

    def __init__(
        self,
        workers: Sequence[WorkerProcess],
        report: Callable[[str], None] = report_to_stderr,
    ) -> None:
        self.workers = list(workers)
        self.report = report
        self.restarts: dict[str, int] = {}
        #: Workers that could not be restarted, with why (`LocalCloud` raises on them).
        self.failed: dict[str, str] = {}
        self._last_restart: dict[str, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (no restart begins after this returns)."""
        self._stop.set()
        with self._lock:
            pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(RESTART_TIMEOUT_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(CHECK_INTERVAL_SECONDS):
            self.check_once()

    def check_once(self) -> None:
        """Reap, report and restart every worker that died since the last check."""
        for worker in self.workers:
            with self._lock:
                if self._stop.is_set():
                    return
                if worker.label in self.failed:
                    continue
                death = worker.death()
                if death is None:
                    continue
                self._restart(worker, death)

    def _restart(self, worker: WorkerProcess, death: str) -> None:
        wait = self._last_restart.get(worker.label, 0.0) + RESTART_BACKOFF_SECONDS
        if time.monotonic() < wait:
            time.sleep(wait - time.monotonic())
        self.report(f"worker {worker.label} died ({death}); restarting")
        self._last_restart[worker.label] = time.monotonic()
        try:
            worker.restart(time.monotonic() + RESTART_TIMEOUT_SECONDS)
        except WorkerError as exc:
            self.failed[worker.label] = str(exc)
            self.report(f"worker {worker.label} could not be restarted: {exc}")
            return
        self.restarts[worker.label] = self.restarts.get(worker.label, 0) + 1
