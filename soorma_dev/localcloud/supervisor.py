"""Worker health and code reload: a worker process that died is noticed, reported once, reaped
and restarted; with `reload_code`, a worker whose agent's code changed is restarted with it.

Lambda starts a new execution environment when one dies; the local cloud does the same, so a
worker killed with `kill -9` (or crashed by a native extension) does not leave its queues
filling up unnoticed, nor a zombie process behind. Reloading changed code keeps the local cloud
(queues, dead letters, trace, activity) running, so "fix the code, then redrive" works in place.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from soorma_dev.localcloud.workers import WorkerError, WorkerProcess

#: How often the workers are checked, in seconds.
CHECK_INTERVAL_SECONDS = 0.2
#: How long a restarted worker may take to pump again.
RESTART_TIMEOUT_SECONDS = 60.0
#: The least time between two restarts of one worker (a worker that dies at once is not
#: restarted in a tight loop).
RESTART_BACKOFF_SECONDS = 1.0

#: One file's identity for change detection: path, modification time (ns), size.
FileStamp = tuple[str, int, int]


def report_to_stderr(message: str) -> None:
    """The default reporter: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


def code_stamp(folder: Path) -> frozenset[FileStamp]:
    """The Python files under an agent folder with their modification times and sizes."""
    stamps = set()
    for file in folder.rglob("*.py"):
        if "__pycache__" in file.parts:
            continue
        try:
            stat = file.stat()
        except FileNotFoundError:  # removed while listing
            continue
        stamps.add((str(file), stat.st_mtime_ns, stat.st_size))
    return frozenset(stamps)


def first_error_line(text: str) -> str:
    """The last line of a worker's log that is not indented (the exception of a traceback)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(" ")]
    return lines[-1] if lines else text.strip()


class WorkerSupervisor:
    """Checks `workers` every `CHECK_INTERVAL_SECONDS` on a thread of its own.

    `report` gets one line per death (`worker X died (signal 9); restarting`), per reload and
    per failed start. A worker that cannot start (its code does not import) waits for its code
    to change (`reload_code`) and is listed in `failed` meanwhile.
    """

    def __init__(
        self,
        workers: Sequence[WorkerProcess],
        report: Callable[[str], None] = report_to_stderr,
        *,
        reload_code: Sequence[WorkerProcess] = (),
    ) -> None:
        self.workers = list(workers)
        self.report = report
        self.restarts: dict[str, int] = {}
        #: Workers that could not be started, with why (`LocalCloud` raises on them).
        self.failed: dict[str, str] = {}
        self._watched = {Path(w.spec.path) for w in reload_code}
        self._stamps = {folder: code_stamp(folder) for folder in self._watched}
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
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(RESTART_TIMEOUT_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(CHECK_INTERVAL_SECONDS):
            self.check_once()

    def check_once(self) -> None:
        """Reload the workers whose code changed; reap, report and restart those that died."""
        with self._lock:
            for folder in self._changed_folders():
                for worker in self.workers:
                    reloading = Path(worker.spec.path) == folder and not self._stop.is_set()
                    if reloading and self._restart(worker):
                        self.report(f"{worker.label}: code changed; worker reloaded")
            for worker in self.workers:
                if self._stop.is_set():
                    return
                if worker.label in self.failed:
                    continue  # waits for its code to change
                death = worker.death()
                if death is not None:
                    self.report(f"worker {worker.label} died ({death}); restarting")
                    self._restart(worker)

    def _changed_folders(self) -> list[Path]:
        changed = []
        for folder in self._watched:
            stamp = code_stamp(folder)
            if stamp != self._stamps[folder]:
                self._stamps[folder] = stamp
                changed.append(folder)
        return changed

    def _restart(self, worker: WorkerProcess) -> bool:
        """Restart `worker`; whether it pumps again (a failure is reported and listed)."""
        wait = self._last_restart.get(worker.label, 0.0) + RESTART_BACKOFF_SECONDS
        if time.monotonic() < wait:
            self._stop.wait(wait - time.monotonic())
        self._last_restart[worker.label] = time.monotonic()
        try:
            worker.restart(time.monotonic() + RESTART_TIMEOUT_SECONDS)
        except WorkerError as exc:
            why = first_error_line(worker.log_tail())
            self.failed[worker.label] = str(exc)
            fix = "fix its code (it reloads on save)" if self._watched else "see its log"
            self.report(f"worker {worker.label} cannot start: {why}; {fix} ({worker.log_path})")
            return False
        self.failed.pop(worker.label, None)
        self.restarts[worker.label] = self.restarts.get(worker.label, 0) + 1
        return True
