"""Exactly-once claims in the fast mode's database: the runtime's `ClaimKeeper` protocol with
the semantics of its DynamoDB claim store (`soorma.runtime.claims.ClaimStore`).

A key is taken when it has no claim, when its claim has expired, or when it is in progress past
the invocation's remaining time at the moment it was taken (Lambda-context-aware expiry); a
claim in progress is `ClaimInProgressError` (transient); a completed one returns its stored
events without running the work; work that raises releases the claim. Outcomes DynamoDB could
not store (over its item size limit) are refused as the DynamoDB store refuses them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from soorma.outbox import MAX_STORED_OUTBOX_BYTES, StoredEvents
from soorma_common.errors import ClaimInProgressError, OutboxNotStorableError
from soorma_dev.localcloud.fast.database import Database

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"


class SqliteClaimKeeper:
    """`run_once(key, work)` with the claims in a SQLite table shared by every worker."""

    def __init__(self, database: Database, *, expires_after_seconds: int) -> None:
        self.database = database
        self.expires_after_seconds = expires_after_seconds
        self._lambda_context: Any = None

    def register_lambda_context(self, lambda_context: Any) -> None:
        """Bound claims taken from now on by this invocation's remaining time."""
        if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
            self._lambda_context = lambda_context

    def run_once(self, key: str, work: Callable[[], StoredEvents]) -> StoredEvents:
        """Run `work` unless `key` completed before; return its (stored) outgoing events."""
        now = time.time()
        context = self._lambda_context
        in_progress_until = (
            now + context.get_remaining_time_in_millis() / 1000 if context is not None else None
        )
        connection = self.database.connection()
        # One conditional write, as the DynamoDB store's put: taken when absent, expired, or
        # in progress past the remaining time of the invocation that took it.
        taken = connection.execute(
            "INSERT INTO claims VALUES (:key, :status, :expires, :until, NULL) "
            "ON CONFLICT (key) DO UPDATE SET status = excluded.status, "
            "expires_at = excluded.expires_at, in_progress_until = excluded.in_progress_until, "
            "result = NULL WHERE claims.expires_at < :now "
            "OR (claims.status = :status AND claims.in_progress_until < :now)",
            {
                "key": key,
                "status": IN_PROGRESS,
                "expires": now + self.expires_after_seconds,
                "until": in_progress_until,
                "now": now,
            },
        ).rowcount
        if not taken:
            row = connection.execute(
                "SELECT status, result FROM claims WHERE key = ?", (key,)
            ).fetchone()
            if row is not None and row[0] == COMPLETED:
                stored: StoredEvents = json.loads(row[1]) if row[1] else []
                return stored
            # in progress (or released since the write: retried all the same)
            raise ClaimInProgressError(
                f"event claim {key!r} is held by another invocation; it will be retried"
            )
        try:
            stored = work()
        except BaseException:
            self._release(key)
            raise
        text = json.dumps(stored, sort_keys=True)
        if len(text) > MAX_STORED_OUTBOX_BYTES:
            self._release(key)
            raise OutboxNotStorableError(
                f"the events of claim {key!r} could not be stored with it: {len(text)} bytes, "
                f"over the {MAX_STORED_OUTBOX_BYTES} a DynamoDB item keeps; nothing was "
                "published and the claim was released: publish fewer or smaller events"
            )
        self.database.connection().execute(
            "UPDATE claims SET status = ?, expires_at = ?, in_progress_until = NULL, "
            "result = ? WHERE key = ?",
            (COMPLETED, time.time() + self.expires_after_seconds, text, key),
        )
        return stored

    def _release(self, key: str) -> None:
        self.database.connection().execute("DELETE FROM claims WHERE key = ?", (key,))
