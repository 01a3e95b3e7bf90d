"""Starting, watching and stopping the agents' worker processes."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from soorma_dev.localcloud.processes import child_environment, stop_process
from soorma_dev.localcloud.worker import WorkerSpec


class WorkerError(RuntimeError):
    """A worker process did not start or died."""


class WorkerProcess:
    """One agent's worker process; its stdout and stderr go to `log_path`."""

    def __init__(
        self, spec: WorkerSpec, env: dict[str, str], run_dir: Path, instance: int = 1
    ) -> None:
        self.spec = spec
        self.env = env
        self.label = spec.agent if instance == 1 else f"{spec.agent}#{instance}"
        self.spec_path = run_dir / f"{self.label}.worker.json"
        self.log_path = run_dir / "logs" / f"{self.label}.log"
        self.process: subprocess.Popen[str] | None = None
        self.ready = threading.Event()
        self._log: IO[str] | None = None
        self._drain: threading.Thread | None = None
        # Starting, stopping and asking how the process ended are one at a time: the supervisor
        # restarts a dead worker while a caller may be stopping or restarting it on purpose.
        self._lifecycle = threading.RLock()

    def start(self) -> None:
        """Start the process (returns at once; see `wait_ready`); one still running is stopped
        first, so that a worker never has two."""
        with self._lifecycle:
            if self.process is not None:
                self.stop()
            self._start()

    def _start(self) -> None:
        self.ready.clear()
        self.spec.dump(self.spec_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "soorma_dev.localcloud.worker", str(self.spec_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=child_environment(self.env),
        )
        self._drain = threading.Thread(
            target=self._copy_output, args=(self.process, self._log), daemon=True
        )
        self._drain.start()

    def _copy_output(self, process: subprocess.Popen[str], log: IO[str]) -> None:
        """Copy one process's output into its log (until its pipe ends), noting READY."""
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(f"READY {self.spec.agent}"):
                self.ready.set()
            else:
                log.write(line)
                log.flush()

    def wait_ready(self, deadline: float) -> None:
        """Wait until the worker pumps, or raise `WorkerError` (with its log) at `deadline`."""
        while not self.ready.wait(0.05):
            if not self.alive() or time.monotonic() > deadline:
                raise WorkerError(
                    f"worker for {self.spec.agent!r} did not start:\n{self.log_tail()}"
                )

    def alive(self) -> bool:
        """Whether the process is running (a process that ended is reaped by asking)."""
        return self.process is not None and self.process.poll() is None

    def death(self) -> str | None:
        """How the process ended (`signal 9`, `exit code 1`), reaping it; None while it runs or
        before it started."""
        with self._lifecycle:
            if self.process is None:
                return None
            code = self.process.poll()
        if code is None:
            return None
        return f"signal {-code}" if code < 0 else f"exit code {code}"

    def restart(self, deadline: float) -> None:
        """Reap the ended process and start a new one (as Lambda starts a new execution
        environment); raise `WorkerError` if the new one does not pump by `deadline`."""
        self.start()
        self.wait_ready(deadline)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the worker's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def request_stop(self) -> None:
        """Ask the process to stop (closes its stdin and sends SIGTERM); `stop` waits for it."""
        if self.process is not None and self.process.poll() is None:
            if self.process.stdin:
                with contextlib.suppress(OSError):
                    self.process.stdin.close()
            self.process.terminate()

    def stop(self) -> None:
        """Stop the process (stdin closed + SIGTERM, then SIGKILL) and reap it."""
        with self._lifecycle:
            process = self.process
            if process is not None:
                self.request_stop()
                stop_process(process, timeout=5.0 + self.spec.wait_seconds)
                if self._drain:
                    self._drain.join(2.0)  # the pipe ended with the process
                if process.stdout:
                    process.stdout.close()
                self.process = None
            if self._log:
                self._log.close()
                self._log = None
