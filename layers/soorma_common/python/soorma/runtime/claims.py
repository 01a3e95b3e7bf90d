"""Exactly-once handling: claims in the idempotency table, by direct conditional writes.

The claim key is the agent plus the envelope's source and id (never an SQS or EventBridge id),
plus the replay name for EventBridge replays (`claim_key`). The claimed work runs the handler and
returns its outgoing events in their stored form (`soorma.outbox`: the exact `Detail` of each, as
base64), stored with the completed claim; a redelivery gets them back without running the
handler, and the runtime flushes them again (same ids, same bytes).

The table layout is the one Powertools idempotency (`idempotent_function`) wrote, which earlier
runtimes used: a claim made under the same key is honoured across a deploy, and the IAM
`LeadingKeys` pattern (`<function name>.*`) still covers every key. (Runtimes before the source
was part of the key wrote `<agent>#<event id>`: an event redelivered across that upgrade is
handled once more; docs/reliability.md, "Upgrading to source-keyed claims".) The writes are
made directly because Powertools' decorator path cost about five times a direct conditional
write per event (docs/performance.md).

An outbox DynamoDB refuses to store (over its 400 KB item limit: the bus budgets the stored form
at publish, so only a record from elsewhere gets here) is a permanent error: the claim is
released and the record dead-lettered with the reason, instead of staying in progress.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any
from urllib.parse import quote

from soorma.outbox import StoredEvents
from soorma.runtime.claim_items import (
    COMPLETED,
    DATA_ATTRIBUTE,
    IN_PROGRESS,
    IN_PROGRESS_EXPIRY_ATTRIBUTE,
    KEY_ATTRIBUTE,
    STATUS_ATTRIBUTE,
    claim_held,
    settled,
)
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.errors import OutboxNotStorableError

#: The function Powertools' key named (`<module>.<qualname>` of the idempotent function earlier
#: runtimes decorated): part of every item key, kept so that their claims are found.
CLAIMED_FUNCTION = "soorma.runtime.claims._run_work"
#: Where the key's first part comes from (Lambda sets it), and Powertools' default without it.
FUNCTION_NAME_VARIABLE = "AWS_LAMBDA_FUNCTION_NAME"
DEFAULT_FUNCTION_NAME = "test-func"
#: Claims attempted before a key whose item keeps changing under us is reported in progress.
CLAIM_ATTEMPTS = 3

_TAKEN_UNLESS = (
    "attribute_not_exists(#id) OR #expires_at < :now OR "
    "(#status = :in_progress AND attribute_exists(#in_progress_expiration) AND "
    "#in_progress_expiration < :now_ms)"
)
_CONDITION_NAMES = {
    "#id": KEY_ATTRIBUTE,
    "#expires_at": TTL_ATTRIBUTE,
    "#status": STATUS_ATTRIBUTE,
    "#in_progress_expiration": IN_PROGRESS_EXPIRY_ATTRIBUTE,
}
_COMPLETE = "SET #data = :data, #expires_at = :expires_at, #status = :status"
#: A claim is still this invocation's while its item is the one it put: completing or
#: releasing a claim another copy took over (after this one's remaining time) would replace or
#: drop that copy's outcome. With an `in_progress_expiration`, that value alone says so: a copy
#: takes the claim over only once it is past, so the copy's own (now + its remaining time) is
#: later, and a one-write copy's completed item has none. Without one (no Lambda context), the
#: in-progress status and the `expires_at` put say so.
_STILL_HELD_UNTIL = "#in_progress_expiration = :held_until"
_STILL_HELD_FOREVER = (
    "#status = :in_progress AND #expires_at = :held_expires "
    "AND attribute_not_exists(#in_progress_expiration)"
)
_COMPLETE_NAMES = {
    "#data": DATA_ATTRIBUTE,
    "#expires_at": TTL_ATTRIBUTE,
    "#status": STATUS_ATTRIBUTE,
    "#in_progress_expiration": IN_PROGRESS_EXPIRY_ATTRIBUTE,
}
#: The names each "still held" condition uses (a release names nothing else).
_HELD_UNTIL_NAMES = {"#in_progress_expiration": IN_PROGRESS_EXPIRY_ATTRIBUTE}
_HELD_FOREVER_NAMES = {key: name for key, name in _COMPLETE_NAMES.items() if key != "#data"}


def item_id(key: str, function_name: str) -> str:
    """The `id` of the item holding claim `key` of the Lambda function `function_name`:
    `<function name>.<CLAIMED_FUNCTION>#<md5 of {"key": key} as sorted JSON>`, as Powertools
    idempotency derived it (so earlier runtimes' claims are found)."""
    # `json.dumps({"key": key}, sort_keys=True)`, without the encoder's per-call setup
    payload = f'{{"key": {encode_basestring_ascii(key)}}}'.encode()
    digest = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    return f"{function_name}.{CLAIMED_FUNCTION}#{digest}"


def stored_data(events: StoredEvents) -> str:
    """The `data` attribute of a completed claim: `json.dumps(events, sort_keys=True)`, as
    Powertools serialised a result (`soorma.outbox` budgets its size), written directly for
    the usual list of strings."""
    if all(type(event) is str for event in events):
        return "[" + ", ".join(map(encode_basestring_ascii, events)) + "]"
    return json.dumps(events, sort_keys=True)


def claim_key(agent: str, source: str, event_id: str, replay: str | None = None) -> str:
    """The idempotency key of one agent handling one event (one replay counts as a new event).

    CloudEvents makes an event's `source` and `id` together unique, so both name it:
    `<agent>#<source>#<event id>`, or `<agent>@<replay name>#<source>#<event id>` for a replay.
    Agent names have neither `@` nor `#`; the replay name is percent-encoded whole and the
    source's `%`, `#` and `@` are (`encoded_source`), so neither holds a `#`: the key reads back
    as one (agent, replay, source, id), and no event id, however spelled, names another
    source's, event's or replay's claim.
    """
    if "%" in source or "#" in source or "@" in source:
        source = encoded_source(source)
    if not replay:
        return f"{agent}#{source}#{event_id}"
    return f"{agent}@{quote(replay, safe='')}#{source}#{event_id}"


def encoded_source(source: str) -> str:
    """`source` as a claim key holds it: `%`, `#` and `@` percent-encoded (`%25`, `%23`,
    `%40`), everything else as it is. Reversible, so two sources never give one text."""
    return source.replace("%", "%25").replace("#", "%23").replace("@", "%40")


class ClaimStore:
    """Runs work at most once per key, storing its result (outgoing events) in DynamoDB.

    Claim: a conditional `PutItem` of an `INPROGRESS` item, taken when the key is absent, its
    `expires_at` has passed, or it is in progress past its `in_progress_expiration` (the end of
    the invocation that claimed it, in ms). A refused put returns the item (`ALL_OLD`), so a
    completed claim is answered without a second read. Complete: an `UpdateItem` setting
    `status` `COMPLETED`, `data` (the stored events, serialised as Powertools serialised a
    result) and a fresh `expires_at`. A failed run deletes its claim, so that a retry runs again.

    `keep_first` is the one-write mode: the work ran already; one conditional `PutItem` stores
    it completed unless another copy completed first.
    """

    def __init__(
        self, table_name: str, *, expires_after_seconds: int, dynamodb_client: Any = None
    ) -> None:
        """`dynamodb_client` defaults to the process's boto3 client (created on first use).
        The key's function name is read from `AWS_LAMBDA_FUNCTION_NAME` now."""
        self.table_name = table_name
        self.expires_after_seconds = expires_after_seconds
        self._client = dynamodb_client
        self.function_name = os.environ.get(FUNCTION_NAME_VARIABLE, DEFAULT_FUNCTION_NAME)
        self._remaining_ms: Callable[[], int] | None = None

    @property
    def client(self) -> Any:
        """The DynamoDB client the claims are written with."""
        if self._client is None:
            from soorma import clients

            self._client = clients.client("dynamodb")
        return self._client

    def register_lambda_context(self, lambda_context: Any) -> None:
        """Bound in-progress claims by the invocation's remaining time."""
        remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
        if remaining is not None:
            self._remaining_ms = remaining

    def item_id(self, key: str) -> str:
        """The `id` of the item holding claim `key` (see `item_id`)."""
        return item_id(key, self.function_name)

    def run_once(self, key: str, work: Callable[[], StoredEvents]) -> StoredEvents:
        """Run `work` unless `key` completed before; return its (stored) outgoing events.

        Raises `ClaimInProgressError` (transient) while another invocation holds the key, and
        `OutboxNotStorableError` (permanent, the claim released) when DynamoDB refuses the
        result as too large. An exception of `work` releases the claim and is re-raised."""
        ident = self.item_id(key)
        stored, claimed = self._claim(key, ident)
        if stored is not None:
            return stored
        try:
            result = work()
        except BaseException:
            self._release(claimed)
            raise
        condition, values = _still_held(claimed)
        values[":data"] = {"S": stored_data(result)}
        values[":expires_at"] = {"N": str(int(time.time()) + self.expires_after_seconds)}
        values[":status"] = {"S": COMPLETED}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: claimed[KEY_ATTRIBUTE]},
                UpdateExpression=_COMPLETE,
                ConditionExpression=condition,
                ExpressionAttributeNames=_COMPLETE_NAMES,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if _refused(exc):
                return self._taken_over(key, result, self._holding_item(exc, claimed))
            if not _item_too_large(exc):
                raise  # the claim stays in progress until the invocation's end: then retried
            self._release(claimed)
            raise _not_storable(key, exc, "the claim was released") from exc
        return result

    def _taken_over(self, key: str, result: StoredEvents, item: dict[str, Any]) -> StoredEvents:
        """The events to publish when another copy took the claim over while the work ran
        (past this invocation's remaining time): the other copy's, once it completed; these
        (`result`), stored now, when it released the claim or let it expire."""
        stored = settled(key, item)
        if stored is not None:
            return stored
        first = self.keep_first(key, result)
        return result if first is None else first

    def keep_first(self, key: str, events: StoredEvents) -> StoredEvents | None:
        """Store `events` (work already done) as the completed claim `key`, in one conditional
        write, unless another copy completed it first; return None when these were stored, or
        the first copy's stored events. Raises `ClaimInProgressError` (transient) while a
        claim-first invocation holds the key, and `OutboxNotStorableError` (permanent, nothing
        stored) when DynamoDB refuses the events as too large."""
        ident = self.item_id(key)
        for _ in range(CLAIM_ATTEMPTS):
            now = time.time()
            item = {
                KEY_ATTRIBUTE: {"S": ident},
                TTL_ATTRIBUTE: {"N": str(int(now) + self.expires_after_seconds)},
                STATUS_ATTRIBUTE: {"S": COMPLETED},
                DATA_ATTRIBUTE: {"S": stored_data(events)},
            }
            try:
                old = self._put_unless_held(item, now)
            except Exception as exc:
                if not _item_too_large(exc):
                    raise
                raise _not_storable(key, exc, "nothing was stored") from exc
            if old is None:
                return None
            stored = settled(key, old)
            if stored is not None:
                return stored
        raise claim_held(key)

    def _claim(self, key: str, ident: str) -> tuple[StoredEvents | None, dict[str, Any]]:
        """Take the claim (None, and the item put), or the stored events of a completed one
        (and the item it tried to put)."""
        for _ in range(CLAIM_ATTEMPTS):
            now = time.time()
            item = {
                KEY_ATTRIBUTE: {"S": ident},
                TTL_ATTRIBUTE: {"N": str(int(now) + self.expires_after_seconds)},
                STATUS_ATTRIBUTE: {"S": IN_PROGRESS},
            }
            if self._remaining_ms is not None:
                until = int((now + self._remaining_ms() / 1000) * 1000)
                item[IN_PROGRESS_EXPIRY_ATTRIBUTE] = {"N": str(until)}
            old = self._put_unless_held(item, now)
            if old is None:
                return None, item
            stored = settled(key, old)
            if stored is not None:
                return stored, item
        raise claim_held(key)

    def _put_unless_held(self, item: dict[str, Any], now: float) -> dict[str, Any] | None:
        """Put `item` unless its key is held at `now` (completed or in progress, unexpired):
        None when put, else the holding item ({} when it vanished between the put and the
        read)."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression=_TAKEN_UNLESS,
                ExpressionAttributeNames=_CONDITION_NAMES,
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":now_ms": {"N": str(int(now * 1000))},
                    ":in_progress": {"S": IN_PROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not _refused(exc):
                raise
            return self._holding_item(exc, item)
        return None

    def _holding_item(self, exc: BaseException, item: dict[str, Any]) -> dict[str, Any]:
        """The item that refused a conditional write of `item` ({} when it is gone): from the
        refusal (`ALL_OLD`), or read for a client that does not return it."""
        old = getattr(exc, "response", {}).get("Item")
        if old is None:
            old = self.client.get_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: item[KEY_ATTRIBUTE]},
                ConsistentRead=True,
            ).get("Item", {})
        return dict(old)

    def _release(self, claimed: dict[str, Any]) -> None:
        """Delete the claim `claimed` put, unless another copy took it over since."""
        condition, values = _still_held(claimed)
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: claimed[KEY_ATTRIBUTE]},
                ConditionExpression=condition,
                ExpressionAttributeNames=_HELD_UNTIL_NAMES
                if condition is _STILL_HELD_UNTIL
                else _HELD_FOREVER_NAMES,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if not _refused(exc):
                raise


def _still_held(claimed: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The condition (and its values) that the claim item `claimed` is still the one put."""
    until = claimed.get(IN_PROGRESS_EXPIRY_ATTRIBUTE)
    if until is not None:
        return _STILL_HELD_UNTIL, {":held_until": until}
    values = {":in_progress": {"S": IN_PROGRESS}, ":held_expires": claimed[TTL_ATTRIBUTE]}
    return _STILL_HELD_FOREVER, values


def _refused(exc: BaseException) -> bool:
    """Whether a failed write was its condition's refusal."""
    return _error(exc).get("Code") == "ConditionalCheckFailedException"


def _not_storable(key: str, exc: BaseException, claim: str) -> OutboxNotStorableError:
    return OutboxNotStorableError(
        f"the events of claim {key!r} could not be stored with it: DynamoDB refused the "
        f"idempotency record as too large ({type(exc).__name__}: {str(exc)[:200]}); nothing "
        f"was published and {claim}: publish fewer or smaller events"
    )


def _error(exc: BaseException) -> dict[str, Any]:
    """The `Error` of a botocore `ClientError` ({} for any other exception)."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    return error if isinstance(error, dict) else {}


def _item_too_large(exc: BaseException) -> bool:
    """Whether a failed write was DynamoDB's item size limit (a `ValidationException`)."""
    error = _error(exc)
    return error.get("Code") == "ValidationException" and "size" in str(error.get("Message"))
