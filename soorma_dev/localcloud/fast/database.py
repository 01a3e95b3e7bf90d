"""The fast mode's SQLite database: one file shared by every process of one local cloud.

WAL mode (readers never wait for the writer), `synchronous=NORMAL` (a commit survives a process
crash, which is all a local cloud needs), and every read-modify-write in `BEGIN IMMEDIATE`, so
that two processes never both take the same message or the same claim. Each thread has its own
connection (sqlite3 connections are not shared between threads).

Only `create` makes the file. Every other opening is read-write on the file that exists
(`mode=rw`): a file deleted under a running cloud is reported by name (`FastStoreMissing`),
never replaced by an empty database whose first query fails with "no such table".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from soorma_dev.localcloud.state import LocalCloudNotRunning

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queues (
    url TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, arn TEXT NOT NULL,
    visibility_ms INTEGER NOT NULL, dlq_url TEXT, max_receives INTEGER
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, message_id TEXT NOT NULL,
    body TEXT NOT NULL, attributes TEXT, sent_ms INTEGER NOT NULL, visible_ms INTEGER NOT NULL,
    receives INTEGER NOT NULL DEFAULT 0, first_receive_ms INTEGER
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue, visible_ms);
CREATE TABLE IF NOT EXISTS rules (
    seq INTEGER PRIMARY KEY, target TEXT NOT NULL, pattern TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_log (
    correlation_id TEXT NOT NULL, sort_key TEXT NOT NULL, envelope TEXT NOT NULL,
    PRIMARY KEY (correlation_id, sort_key)
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, expires_at REAL NOT NULL,
    in_progress_until REAL, result TEXT
);
"""


class FastStoreMissing(LocalCloudNotRunning):
    """The fast local cloud's database file is gone (deleted, or its cloud stopped and removed
    its state): nothing of that cloud's queues, claims or event log is left to open."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"the fast local cloud's database {path} does not exist (deleted, or the cloud that "
            "made it has stopped): restart `soorma dev --fast` (`LocalCloud(fast=True)`) to "
            "create a new one; its queues, claims and event log start empty"
        )
        self.path = path


class Database:
    """One SQLite file: `read` for plain queries, `write()` for a `BEGIN IMMEDIATE` transaction."""

    def __init__(self, path: Path | str, *, busy_timeout_seconds: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_seconds = busy_timeout_seconds
        self._local = threading.local()

    def create(self) -> Database:
        """Create the file and its tables (WAL mode is a property of the file: set once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.close()
        connection = self._open(create=True)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        return self

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit: transactions are explicit), on the file
        `create` made; `FastStoreMissing` when there is none."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open(create=False)
        return connection

    def _open(self, *, create: bool) -> sqlite3.Connection:
        """A new connection for this thread: `mode=rwc` (`create`) makes the file if it is
        missing, `mode=rw` refuses to."""
        uri = f"{self.path.absolute().as_uri()}?mode={'rwc' if create else 'rw'}"
        try:
            connection = sqlite3.connect(
                uri, timeout=self.busy_timeout_seconds, isolation_level=None, uri=True
            )
        except sqlite3.OperationalError:
            if not create and not self.path.exists():
                raise FastStoreMissing(self.path) from None
            raise
        connection.execute("PRAGMA synchronous=NORMAL")
        self._local.connection = connection
        return connection

    def read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of one query (its own read snapshot)."""
        return self.connection().execute(sql, parameters).fetchall()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (`BEGIN IMMEDIATE`): committed at the end of the
        block, rolled back if it raises."""
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def setting(self, name: str) -> str:
        """A value the cloud stored at start (`bus_name`, `account`, `region`)."""
        rows = self.read("SELECT value FROM settings WHERE name = ?", (name,))
        if not rows:
            raise KeyError(f"the fast local cloud's database {self.path} has no setting {name!r}")
        return str(rows[0][0])

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
