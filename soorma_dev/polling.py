"""`Poller`: one round of work every `interval` seconds in a daemon thread, until stopped (the
local cloud's dead-letter watcher and schedule pump)."""

from __future__ import annotations

import threading


class Poller:
    """Calls `check()` every `interval` seconds in a daemon thread between `start` and `stop`;
    a round that raises (the server is stopping) is skipped, the next one retries."""

    interval: float = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> int:
        """One round of work; returns how much it did."""
        raise NotImplementedError

    def start(self) -> None:
        """Poll until `stop`."""
        self._thread = threading.Thread(target=self._run, daemon=True, name=type(self).__name__)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (waits up to 10 s for the round under way)."""
        self._stop.set()
        if self._thread:
            self._thread.join(10.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the server is stopping, or a round failed: the next one retries
                continue
