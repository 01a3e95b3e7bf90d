"""Exactly-once claims in the fast mode's database: the runtime's `ClaimKeeper` protocol with
the semantics of its DynamoDB claim store (`soorma.runtime.claims.ClaimStore`).

A key is taken when it has no claim, when its claim has expired, or when it is in progress past
the invocation's remaining time at the moment it was taken (Lambda-context-aware expiry); a
claim in progress is `ClaimInProgressError` (transient); a completed one returns its stored
events without running the work; work that raises releases the claim. Outcomes DynamoDB could
not store (over its item size limit) are refused as the DynamoDB store refuses them.

`keep_first` is the one-write mode (`Agent(..., claims="one-write")`): the work ran already; one
conditional write stores it completed unless another copy completed it first, whose events are
returned instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from soorma.outbox import MAX_STORED_OUTBOX_BYTES, StoredEvents
from soorma.runtime.claim_items import claim_held, stored_events, unknown_status
from soorma.runtime.claims import CLAIM_ATTEMPTS
from soorma_common.errors import OutboxNotStorableError
from soorma_dev.localcloud.fast.database import Database

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
#: The conditional write both modes make: taken when absent, expired, or in progress past the
#: remaining time of the invocation that took it (the DynamoDB store's condition).
_TAKE = (
    "INSERT INTO claims VALUES (:key, :status, :expires, :until, :result) "
    "ON CONFLICT (key) DO UPDATE SET status = excluded.status, "
    "expires_at = excluded.expires_at, in_progress_until = excluded.in_progress_until, "
    "result = excluded.result WHERE claims.expires_at < :now "
    "OR (claims.status = :in_progress AND claims.in_progress_until < :now)"
)

#: The claim a call took is still its own: the row it wrote (key, status, expiry, until).
_STILL_HELD = "key = ? AND status = ? AND expires_at = ? AND in_progress_until IS ?"


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
        """Run `work` unless `key` completed before; return its (stored) outgoing events. The
        completion (and a failed run's release) applies only to the claim this call took: a copy
        that took it over past this invocation's remaining time keeps its outcome."""
        now = time.time()
        context = self._lambda_context
        in_progress_until = (
            now + context.get_remaining_time_in_millis() / 1000 if context is not None else None
        )
        if not self._take(key, IN_PROGRESS, in_progress_until, None, now):
            stored = self._settled(key)
            if stored is not None:
                return stored
            raise claim_held(key)  # released since the write: retried all the same
        held = (key, IN_PROGRESS, now + self.expires_after_seconds, in_progress_until)
        try:
            stored = work()
        except BaseException:
            self._release(held)
            raise
        try:
            text = _storable(key, stored, "the claim was released")
        except OutboxNotStorableError:
            self._release(held)
            raise
        completed = self.database.connection().execute(
            "UPDATE claims SET status = ?, expires_at = ?, in_progress_until = NULL, "
            f"result = ? WHERE {_STILL_HELD}",
            (COMPLETED, time.time() + self.expires_after_seconds, text, *held),
        )
        if completed.rowcount > 0:
            return stored
        first = self._settled(key)  # taken over: the copy's events, once it completed
        if first is not None:
            return first
        first = self.keep_first(key, stored)
        return stored if first is None else first

    def keep_first(self, key: str, events: StoredEvents) -> StoredEvents | None:
        """Store `events` (work already done) as the completed claim `key` in one conditional
        write, unless another copy completed it first: None when these were stored, else the
        first copy's events. Raises `ClaimInProgressError` (transient) while a claim-first
        invocation holds the key, `OutboxNotStorableError` when the events are too large for a
        DynamoDB item (nothing stored)."""
        text = _storable(key, events, "nothing was stored")
        for _ in range(CLAIM_ATTEMPTS):
            now = time.time()
            if self._take(key, COMPLETED, None, text, now):
                return None
            stored = self._settled(key)
            if stored is not None:
                return stored
        raise claim_held(key)

    def _take(
        self, key: str, status: str, until: float | None, result: str | None, now: float
    ) -> bool:
        """The conditional write: whether `key` was taken with this row."""
        taken: int = (
            self.database.connection()
            .execute(
                _TAKE,
                {
                    "key": key,
                    "status": status,
                    "expires": now + self.expires_after_seconds,
                    "until": until,
                    "result": result,
                    "now": now,
                    "in_progress": IN_PROGRESS,
                },
            )
            .rowcount
        )
        return taken > 0

    def _settled(self, key: str) -> StoredEvents | None:
        """The stored events of the completed claim holding `key`; `ClaimInProgressError` when
        one is in progress; None when the row is gone (released since the write)."""
        row = (
            self.database.connection()
            .execute("SELECT status, result FROM claims WHERE key = ?", (key,))
            .fetchone()
        )
        if row is None:
            return None
        if row[0] == COMPLETED:
            return stored_events(key, row[1])
        if row[0] == IN_PROGRESS:
            raise claim_held(key)
        raise unknown_status(key, row[0])

    def _release(self, held: tuple[Any, ...]) -> None:
        """Delete the claim `held` describes, unless another copy took it over since."""
        self.database.connection().execute(f"DELETE FROM claims WHERE {_STILL_HELD}", held)


def _storable(key: str, events: StoredEvents, outcome: str) -> str:
    """`events` as stored (`json.dumps`, sorted keys), or `OutboxNotStorableError` when over
    what a DynamoDB item keeps."""
    text = json.dumps(events, sort_keys=True)
    if len(text) > MAX_STORED_OUTBOX_BYTES:
        raise OutboxNotStorableError(
            f"the events of claim {key!r} could not be stored with it: {len(text)} bytes, "
            f"over the {MAX_STORED_OUTBOX_BYTES} a DynamoDB item keeps; nothing was "
            f"published and {outcome}: publish fewer or smaller events"
        )
    return text
