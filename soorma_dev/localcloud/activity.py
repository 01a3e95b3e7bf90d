"""The activity file: one JSON line per handling outcome, appended by every worker process.

Each append is one `write` on a file opened with O_APPEND, so lines from different processes
never interleave; the line number is the `since` cursor of `activity(since=...)`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from soorma_dev.localcloud.models import ActivityLine


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class ActivityLog:
    """Append and read the activity lines of one local cloud run."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, lines: Iterable[ActivityLine]) -> None:
        """Append lines atomically (one write call)."""
        text = "".join(json.dumps(line.to_dict(), separators=(",", ":")) + "\n" for line in lines)
        if not text:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

    def read(self, since: int = 0) -> list[ActivityLine]:
        """Every line from line number `since` (0 = from the start), in append order."""
        try:
            with self.path.open(encoding="utf-8") as file:
                raw = file.readlines()
        except FileNotFoundError:
            return []
        lines = []
        for text in raw[since:]:
            # A line being written may have no newline yet, or (while another process's append
            # is copied in) read as zero bytes: stop there, it is complete on the next read.
            try:
                record = json.loads(text) if text.endswith("\n") else None
            except json.JSONDecodeError:
                record = None
            if record is None:
                break
            lines.append(ActivityLine.from_dict(record))
        return lines
