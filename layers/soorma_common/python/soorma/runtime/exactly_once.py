"""Exactly-once on the bus for one agent: how a handled event's claim is made and kept.

Two modes, chosen per agent (`Agent(..., claims=...)`):

- claim-first (the default): claim the event, run the handler, complete the claim with the
  outgoing events (two DynamoDB writes). The handler runs once per event, so its side effects
  outside the bus happen once;
- one-write: run the handler, then one conditional write storing the completed claim with the
  outgoing events. Concurrent copies of a delivery may all run the handler; only the first
  write's events are published: a later copy (or a redelivery) re-sends those (same ids, same
  bytes) instead of its own. For handlers with no side effects outside the bus.

Either way, a redelivery of a completed claim re-sends its stored events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soorma.agent_spec import ONE_WRITE
from soorma.outbox import StoredEvents, check_owned, restore, store
from soorma.publishing import OutgoingEvent
from soorma.runtime.records import DeliveredEvent
from soorma.runtime.transport import ClaimKeeper
from soorma_common.errors import ClaimExpiredError

#: Logs an event handled as new although older than the claim TTL: (message, extra).
Warn = Callable[[str, dict[str, Any]], None]


class ExactlyOnce:
    """Runs an agent's handler under its claims; `run` gives the events to publish.

    `produced` and `source` check that stored events are the agent's to re-send; a claim store
    without `keep_first` (e.g. a custom transport's) runs one-write agents claim-first."""

    def __init__(
        self,
        claims: ClaimKeeper,
        *,
        mode: str,
        ttl_seconds: int,
        source: str,
        produced: frozenset[str] | None,
        warn: Warn,
    ) -> None:
        self.claims = claims
        self.ttl_seconds = ttl_seconds
        self._source = source
        self._produced = produced
        self._warn = warn
        keep_first = getattr(claims, "keep_first", None) if mode == ONE_WRITE else None
        #: The one-write store call (None: claim-first).
        self.keep_first: Callable[[str, StoredEvents], StoredEvents | None] | None = keep_first

    def run(
        self, key: str, delivered: DeliveredEvent, handler: Callable[[], list[OutgoingEvent]]
    ) -> list[OutgoingEvent]:
        """The events to publish for `delivered` under claim `key`: `handler`'s, or those
        stored with the claim by an earlier (or concurrent) copy."""
        if self.keep_first is not None and not self._maybe_expired(delivered):
            events = handler()
            first = self.keep_first(key, store(events))
            return events if first is None else self._stored(first, key)

        ran: list[list[OutgoingEvent]] = []

        def work() -> StoredEvents:  # runs only when the event has no claim
            # (a replay is old and handled again on purpose)
            if delivered.replay_name is None and refuse_if_claim_expired(
                delivered, key, self.ttl_seconds
            ):
                self._warn(
                    "event older than the claim TTL, with no claim: handled as new",
                    {"claim": key, "claim_ttl_seconds": self.ttl_seconds},
                )
            ran.append(handler())
            return store(ran[0])

        stored = self.claims.run_once(key, work)
        # A redelivery of a completed claim: its stored events are flushed again (same ids,
        # the very bytes of the first put).
        return ran[0] if ran else self._stored(stored, key)

    def _stored(self, stored: StoredEvents, key: str) -> list[OutgoingEvent]:
        return check_owned(restore(stored, key), key, self._source, self._produced)

    def _maybe_expired(self, delivered: DeliveredEvent) -> bool:
        """Whether a claim of `delivered` may have expired (an event older than the TTL, not a
        replay): it is then claimed first, so that the expiry check runs before the handler."""
        if delivered.replay_name is not None:
            return False
        age = delivered.age_seconds()
        return age is not None and age > self.ttl_seconds


def refuse_if_claim_expired(delivered: DeliveredEvent, key: str, ttl_seconds: int) -> bool:
    """Raise `ClaimExpiredError` (permanent) for a redelivered event with no claim that was put
    on the bus more than `ttl_seconds` ago: a claim made for it then has expired, so whether it
    was handled cannot be known (a dead letter redriven after the claim TTL). An event younger
    than the TTL with no claim was never handled: any claim made since it was put would still be
    there. An old event that does not say it was redriven (no `SoormaRedriven` message
    attribute: e.g. a producer's own old `Time`) is handled; returns True so the caller flags
    it.
    """
    age = delivered.age_seconds()
    if age is None or age <= ttl_seconds:
        return False
    if not delivered.redriven:
        return True
    raise ClaimExpiredError(
        f"event {delivered.envelope.id!r} was put on the bus {age:.0f} s ago, more than the "
        f"claim TTL ({ttl_seconds} s, SOORMA_IDEMPOTENCY_TTL_SECONDS), and has no claim "
        f"({key!r}): it may have been handled already, so it is not handled again. Publish "
        "it anew to have it handled, or keep claims longer"
    )
