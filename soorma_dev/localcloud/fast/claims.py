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
        with self.database.write() as db:
            row = db.execute(
                "SELECT status, expires_at, in_progress_until, result FROM claims WHERE key = ?",
                (key,),
            ).fetchone()
            if row is not None and row[1] >= now:
                status, _expires, until, result = row
                if status == COMPLETED:
                    stored: StoredEvents = json.loads(result) if result else []
                    return stored
                if until is None or until >= now:
                    raise ClaimInProgressError(
                        f"event claim {key!r} is held by another invocation; it will be retried"
                    )
            db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, NULL)",
                (key, IN_PROGRESS, now + self.expires_after_seconds, in_progress_until),
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
        with self.database.write() as db:
            db.execute(
                "UPDATE claims SET status = ?, expires_at = ?, in_progress_until = NULL, "
                "result = ? WHERE key = ?",
                (COMPLETED, time.time() + self.expires_after_seconds, text, key),
            )
        return stored

    def _release(self, key: str) -> None:
        with self.database.write() as db:
            db.execute("DELETE FROM claims WHERE key = ?", (key,))
