"""Reading a claim item of the idempotency table: its layout, and what an item says.

An item is the runtime's own (`soorma.runtime.claims` writes it) or Powertools idempotency's
from earlier runtimes, with the same layout. Anything else found under a claim's key (another
status, a `data` attribute that is not a string, a TTL that is not a number) was written by
someone else: it is `UnreadableClaimError` (permanent) naming the claim, never a crash into
retries and never "handled, nothing to publish".
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from soorma.outbox import StoredEvents
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.errors import ClaimInProgressError, UnreadableClaimError

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
#: The item's attributes (Powertools' names, `expires_at` being the table's TTL attribute).
KEY_ATTRIBUTE = "id"
STATUS_ATTRIBUTE = "status"
IN_PROGRESS_EXPIRY_ATTRIBUTE = "in_progress_expiration"
DATA_ATTRIBUTE = "data"


def settled(key: str, item: dict[str, Any]) -> StoredEvents | None:
    """The stored events of a completed, unexpired claim item; raises `ClaimInProgressError`
    for one in progress; None when it no longer holds the key (expired or gone: claim again).
    An unexpired item this runtime cannot have written (another status, none, stored events
    that are not a list, a `data` that is not a string) is `UnreadableClaimError` (permanent),
    naming the claim. Times are DynamoDB numbers, fractions allowed (a TTL written by a tool)."""
    if not item:
        return None
    now = time.time()
    status = item.get(STATUS_ATTRIBUTE, {}).get("S")
    expires = _number(key, item, TTL_ATTRIBUTE)
    if expires is not None and expires < now:
        return None
    if status == COMPLETED:
        return stored_events(key, _data(key, item))
    if status == IN_PROGRESS:
        until = _number(key, item, IN_PROGRESS_EXPIRY_ATTRIBUTE)
        if until is None or until >= now * 1000:
            raise claim_held(key)
        return None
    raise unknown_status(key, status)


def unknown_status(key: str, status: object) -> UnreadableClaimError:
    """The permanent error of a claim record whose status this runtime never writes."""
    return UnreadableClaimError(
        f"the idempotency record {key!r} has status {status!r}, which this runtime never "
        "writes (INPROGRESS or COMPLETED): the record was not written by it; delete it to "
        "handle the event again"
    )


def stored_events(key: str, data: str | None) -> StoredEvents:
    """The stored events of completed claim `key` (`data`: a JSON list; absent or null: none),
    or `UnreadableClaimError` (permanent) for anything else."""
    try:
        stored = json.loads(data) if data else []
    except ValueError:
        stored = data
    if stored is None:
        return []
    if not isinstance(stored, list):
        raise _unreadable(key, f"{str(data)[:60]!r} where a JSON list of stored events belongs")
    return stored


def claim_held(key: str) -> ClaimInProgressError:
    """The transient error of a claim another invocation holds."""
    return ClaimInProgressError(
        f"event claim {key!r} is held by another invocation; it will be retried"
    )


def _data(key: str, item: dict[str, Any]) -> str | None:
    """The item's stored events as text: a string attribute; absent or NULL: none."""
    value = item.get(DATA_ATTRIBUTE)
    if value is None or value.get("NULL") is True:
        return None
    text = value.get("S")
    if not isinstance(text, str):
        kind = next(iter(value), "?")
        raise _unreadable(key, f"a DynamoDB {kind} where the stored events' string belongs")
    return text


def _number(key: str, item: dict[str, Any], name: str) -> float | None:
    """A time attribute of the item (a DynamoDB number; absent: None)."""
    value = item.get(name)
    if value is None:
        return None
    try:
        number = float(value["N"])
    except (KeyError, TypeError, ValueError):
        number = math.nan
    if math.isnan(number):
        raise _unreadable(key, f"{str(value)[:60]!r} where the number {name} belongs")
    return number


def _unreadable(key: str, what: str) -> UnreadableClaimError:
    return UnreadableClaimError(
        f"the idempotency record {key!r} holds {what}: the record was not written by this "
        "runtime; delete it to handle the event again"
    )
