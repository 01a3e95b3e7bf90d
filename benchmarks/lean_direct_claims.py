"""The lean baseline's claim as an expert would hand-write it without Powertools: direct
conditional writes on the same table layout (`id` = `<function>.<handler>#<md5>`, `status`,
`expires_at`, `in_progress_expiration` in ms from the Lambda context, `data` = the outgoing
events as sorted JSON).

Claim: a conditional `PutItem` of an `INPROGRESS` item (absent, expired, or in progress past its
in-progress expiry), `ALL_OLD` on refusal so that a completed claim's events come back without a
read; run; complete: `UpdateItem` with the events, on condition that the item still holds this
invocation's `in_progress_expiration` (a copy that took the claim over keeps its outcome: its
events are returned, or the claim is reported in progress). A failed run deletes the claim on
the same condition. The same semantics as the Soorma runtime's claim store.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

PREFIX = f"{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'test-func')}.lean_handler.run_handler"
CONDITION = (
    "attribute_not_exists(#id) OR #expires_at < :now OR (#status = :in_progress AND "
    "attribute_exists(#in_progress_expiration) AND #in_progress_expiration < :now_ms)"
)
NAMES = {
    "#id": "id",
    "#expires_at": "expires_at",
    "#status": "status",
    "#in_progress_expiration": "in_progress_expiration",
}
COMPLETE = "SET #data = :data, #expires_at = :expires_at, #status = :status"
COMPLETE_NAMES = {
    "#data": "data",
    "#expires_at": "expires_at",
    "#status": "status",
    "#in_progress_expiration": "in_progress_expiration",
}
STILL_HELD = "#in_progress_expiration = :held_until"
HELD_NAMES = {"#in_progress_expiration": "in_progress_expiration"}
TTL_SECONDS = 86400


class ClaimInProgress(Exception):
    """Another invocation holds the claim: retry the record later."""


def run_once(
    client: Any,
    table: str,
    key: str,
    remaining_ms: int,
    work: Callable[[], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Run `work` unless `key` completed before; its (or the stored) outgoing events."""
    ident = f"{PREFIX}#{hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()}"
    now = time.time()
    until = {"N": str(int(now * 1000) + remaining_ms)}
    try:
        client.put_item(
            TableName=table,
            Item={
                "id": {"S": ident},
                "expires_at": {"N": str(int(now) + TTL_SECONDS)},
                "status": {"S": "INPROGRESS"},
                "in_progress_expiration": until,
            },
            ConditionExpression=CONDITION,
            ExpressionAttributeNames=NAMES,
            ExpressionAttributeValues={
                ":now": {"N": str(int(now))},
                ":now_ms": {"N": str(int(now * 1000))},
                ":in_progress": {"S": "INPROGRESS"},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        return _settled(key, exc)
    try:
        outbox = work()
    except Exception:
        try:
            client.delete_item(
                TableName=table,
                Key={"id": {"S": ident}},
                ConditionExpression=STILL_HELD,
                ExpressionAttributeNames=HELD_NAMES,
                ExpressionAttributeValues={":held_until": until},
            )
        except Exception as exc:
            if not _refused(exc):
                raise
        raise
    try:
        client.update_item(
            TableName=table,
            Key={"id": {"S": ident}},
            UpdateExpression=COMPLETE,
            ConditionExpression=STILL_HELD,
            ExpressionAttributeNames=COMPLETE_NAMES,
            ExpressionAttributeValues={
                ":data": {"S": json.dumps(outbox, sort_keys=True)},
                ":expires_at": {"N": str(int(time.time()) + TTL_SECONDS)},
                ":status": {"S": "COMPLETED"},
                ":held_until": until,
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        return _settled(key, exc)  # taken over: the copy's events, or retried
    return outbox


def _settled(key: str, exc: Exception) -> list[dict[str, Any]]:
    """The stored events of the completed claim a conditional write was refused by; raises
    `ClaimInProgress` for any other holder, and re-raises anything but a refusal."""
    if not _refused(exc):
        raise exc
    old = getattr(exc, "response", {}).get("Item", {})
    if old.get("status", {}).get("S") == "COMPLETED":
        stored: list[dict[str, Any]] = json.loads(old["data"]["S"])
        return stored
    raise ClaimInProgress(key) from None


def _refused(exc: Exception) -> bool:
    """Whether a write failed on its condition (`ConditionalCheckFailedException`)."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return bool(code == "ConditionalCheckFailedException")
