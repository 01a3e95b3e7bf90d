"""Exactly-once claims in a dict: the runtime's `ClaimStore` over an in-memory table that answers
its calls with DynamoDB's semantics (the conditional put, `ALL_OLD` on a refused one)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from soorma.runtime.claim_items import (
    IN_PROGRESS,
    IN_PROGRESS_EXPIRY_ATTRIBUTE,
    KEY_ATTRIBUTE,
    STATUS_ATTRIBUTE,
)
from soorma.runtime.claims import ClaimStore
from soorma_common.delivery import TTL_ATTRIBUTE


class ConditionalCheckFailed(Exception):
    """DynamoDB's `ConditionalCheckFailedException`, with the item (as botocore's `ClientError`
    carries it in `response`)."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("The conditional request failed")
        self.response = {
            "Error": {"Code": "ConditionalCheckFailedException", "Message": str(self)},
            "Item": item,
        }


class InMemoryClaimTable:
    """The idempotency table's calls the claim store makes, in a dict: a put is refused (with
    the item) while the key is held, i.e. present, unexpired, and not in progress past its
    in-progress expiry."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def put_item(self, *, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        """A conditional put (the claim store's condition, evaluated at the current time)."""
        key = Item[KEY_ATTRIBUTE]["S"]
        with self._lock:
            old = self.items.get(key)
            if old is not None and _held(old, time.time()):
                raise ConditionalCheckFailed(dict(old))
            self.items[key] = dict(Item)
        return {}

    def update_item(
        self,
        *,
        Key: dict[str, Any],
        UpdateExpression: str,
        ExpressionAttributeNames: dict[str, str],
        ExpressionAttributeValues: dict[str, Any],
        **_: Any,
    ) -> dict[str, Any]:
        """`SET #name = :value, ...` on the claim this invocation still holds (the claim
        store's completion condition); refused (with the item) otherwise."""
        with self._lock:
            item = self._still_held(Key, ExpressionAttributeValues)
            for placeholder, value in re.findall(r"(#\w+) = (:\w+)", UpdateExpression):
                item[ExpressionAttributeNames[placeholder]] = ExpressionAttributeValues[value]
        return {}

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The item, if any."""
        with self._lock:
            item = self.items.get(Key[KEY_ATTRIBUTE]["S"])
        return {"Item": dict(item)} if item else {}

    def delete_item(
        self, *, Key: dict[str, Any], ExpressionAttributeValues: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        """Remove the claim this invocation still holds; refused (with the item) otherwise."""
        with self._lock:
            self._still_held(Key, ExpressionAttributeValues)
            del self.items[Key[KEY_ATTRIBUTE]["S"]]
        return {}

    def _still_held(self, key: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """The item at `key` if it is the claim `values` describe (its `:held_until`, or, for a
        claim without one, in progress with its `:held_expires`), else `ConditionalCheckFailed`."""
        item = self.items.get(key[KEY_ATTRIBUTE]["S"], {})
        until = item.get(IN_PROGRESS_EXPIRY_ATTRIBUTE)
        if ":held_until" in values:
            held = until == values[":held_until"]
        else:
            held = (
                until is None
                and item.get(STATUS_ATTRIBUTE) == values[":in_progress"]
                and item.get(TTL_ATTRIBUTE) == values[":held_expires"]
            )
        if not held:
            raise ConditionalCheckFailed(dict(item))
        return item


def _held(item: dict[str, Any], now: float) -> bool:
    if int(item[TTL_ATTRIBUTE]["N"]) < now:
        return False
    until = item.get(IN_PROGRESS_EXPIRY_ATTRIBUTE)
    stale = (
        item[STATUS_ATTRIBUTE]["S"] == IN_PROGRESS
        and until is not None
        and int(until["N"]) < now * 1000
    )
    return not stale


class InMemoryClaimStore(ClaimStore):
    """The runtime's `ClaimStore` (the same `run_once` and `keep_first`) over an in-memory
    table instead of DynamoDB."""

    def __init__(self, *, expires_after_seconds: int = 3600) -> None:
        #: The in-memory table the claims are kept in.
        self.table = InMemoryClaimTable()
        super().__init__(
            "in-memory", expires_after_seconds=expires_after_seconds, dynamodb_client=self.table
        )
