"""`MemoryTable`: the memory table through the low-level DynamoDB client, with plain Python values.

Values go in and out as JSON-like Python (dict, list, str, int, float, bool, None); floats are
stored as DynamoDB numbers (via `Decimal`) and come back as `int` when integral, else `float`.
A failed condition raises `ConditionFailed` carrying the item as it was (DynamoDB returns it with
`ReturnValuesOnConditionCheckFailure`, so no extra read is needed to explain a conflict).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from soorma import clients
from soorma.config import settings
from soorma.memory.sizing import ItemTooLargeError, check_item_size
from soorma.memory.values import (
    Item as Item,  # re-exported: callers import it from here
)
from soorma.memory.values import (
    is_live,
    item_from_dynamo,
    item_to_dynamo,
    to_dynamo,
)

_BATCH_WRITE_LIMIT = 25


class MemoryTableNotConfiguredError(RuntimeError):
    """No memory table name: set `SOORMA_MEMORY_TABLE` (the stack and `soorma dev` do)."""


class ConditionFailed(Exception):
    """A conditional write whose condition did not hold; `current` is the item as it was."""

    def __init__(self, current: Item | None) -> None:
        super().__init__("conditional check failed")
        self.current = current


class TransactionCancelled(Exception):
    """A TransactWriteItems that was cancelled; `codes` are the reasons, one per operation
    (`"None"` for an operation that was fine, `"ConditionalCheckFailed"` for a failed
    condition)."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(f"transaction cancelled: {codes}")
        self.codes = codes


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class MemoryTable:
    """The memory table (`SOORMA_MEMORY_TABLE`) with the SDK's process-wide DynamoDB client."""

    def __init__(self, name: str, *, ttl_seconds: int, client: Any = None) -> None:
        self.name = name
        self.ttl_seconds = ttl_seconds
        self._client = client

    @classmethod
    def from_settings(cls) -> MemoryTable:
        """The table named by `SOORMA_MEMORY_TABLE`, with `SOORMA_MEMORY_TTL_SECONDS`."""
        conf = settings()
        if not conf.memory_table:
            raise MemoryTableNotConfiguredError(
                "SOORMA_MEMORY_TABLE is not set: deploy with the Soorma stack, run under "
                "`soorma dev`, or set it to the memory table's name"
            )
        return cls(conf.memory_table, ttl_seconds=conf.memory_ttl_seconds)

    @property
    def client(self) -> Any:
        """The boto3 DynamoDB client."""
        if self._client is None:
            self._client = clients.client("dynamodb")
        return self._client

    def expires_at(self, ttl_seconds: int | None = None) -> int:
        """The TTL attribute's (`expires_at`) value (epoch seconds) of an item written now."""
        return int(time.time()) + (self.ttl_seconds if ttl_seconds is None else ttl_seconds)

    # ---- single items ---------------------------------------------------------------------

    def get(self, pk: str, sk: str) -> Item | None:
        """One item (strongly consistent), or None."""
        response = self.client.get_item(TableName=self.name, Key=_key(pk, sk), ConsistentRead=True)
        found = response.get("Item")
        return item_from_dynamo(found) if found and is_live(found) else None

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a whole item, optionally only if `condition` holds (else `ConditionFailed`).

        An item over DynamoDB's 400 KB limit is refused before it is sent (`ItemTooLargeError`).
        """
        request: dict[str, Any] = {"TableName": self.name, "Item": item_to_dynamo(item)}
        check_item_size(request["Item"], describe(item))
        _add_condition(request, condition, names, values)
        self._write(self.client.put_item, request)

    def check(self, item: Mapping[str, Any], *, what: str | None = None) -> int:
        """The size of `item` as DynamoDB counts it, or `ItemTooLargeError` (naming `what`, by
        default the item's kind and key) over 400 KB."""
        return check_item_size(item_to_dynamo(item), what or describe(item))

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        condition: str | None = None,
        returns: str = "ALL_NEW",
    ) -> Item:
        """One UpdateItem; returns the attributes named by `returns` (default: the new item)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": _key(pk, sk),
            "UpdateExpression": expression,
            "ReturnValues": returns,
        }
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if values:
            request["ExpressionAttributeValues"] = {k: to_dynamo(v) for k, v in values.items()}
        if condition:
            request["ConditionExpression"] = condition
            request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        response = self._write(self.client.update_item, request)
        return item_from_dynamo(response.get("Attributes", {}))

    def delete(
        self,
        pk: str,
        sk: str,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        returns_old: bool = False,
    ) -> bool:
        """Delete one item, optionally only if `condition` holds. With `returns_old`, says
        whether there was a (live) item to delete; else True."""
        request: dict[str, Any] = {"TableName": self.name, "Key": _key(pk, sk)}
        _add_condition(request, condition, names, values)
        if returns_old:
            request["ReturnValues"] = "ALL_OLD"
        response = self._write(self.client.delete_item, request)
        old = response.get("Attributes")
        return not returns_old or bool(old and is_live(old))

    def _write(self, operation: Any, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return operation(**request)  # type: ignore[no-any-return]
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item")
            raise ConditionFailed(item_from_dynamo(old) if old else None) from None
        except self.client.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationException" and "size" in error.get("Message", ""):
                key = request.get("Key") or request.get("Item") or {}
                raise ItemTooLargeError(
                    f"{describe(item_from_dynamo(key))} would be over DynamoDB's item limit of "
                    f"400 KB ({error.get('Message')}): store large content elsewhere (e.g. S3) "
                    "and keep a reference"
                ) from None
            raise

    def transact(self, operations: Sequence[Mapping[str, Any]]) -> None:
        """One TransactWriteItems of `put_operation` / `update_operation` entries: all or none.

        Raises `TransactionCancelled` with a reason code per operation when any condition fails.
        """
        request = [{k: {"TableName": self.name, **v} for k, v in op.items()} for op in operations]
        try:
            self.client.transact_write_items(TransactItems=request)
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            raise TransactionCancelled([r.get("Code", "None") for r in reasons]) from None

    # ---- many items -----------------------------------------------------------------------

    def query(
        self,
        key_condition: str,
        *,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        index: str | None = None,
        filter_expression: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        projection: str | None = None,
    ) -> Iterator[Item]:
        """Every item matching a key condition (paginated), at most `limit` of them."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": {k: to_dynamo(v) for k, v in values.items()},
            "ScanIndexForward": forward,
        }
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if index:
            request["IndexName"] = index
        else:
            request["ConsistentRead"] = True
        if filter_expression:
            request["FilterExpression"] = filter_expression
        if projection:
            request["ProjectionExpression"] = projection
        yield from self._paginate(self.client.query, request, limit)

    def query_page(
        self,
        key_condition: str,
        *,
        values: Mapping[str, Any],
        index: str,
        limit: int,
        forward: bool = True,
        start_key: Mapping[str, Any] | None = None,
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """Up to `limit` live items of one GSI Query, and the key to resume from (None: no more).

        Expired items are dropped after the read, so a page may hold fewer than `limit` items
        while a next page exists; DynamoDB's own `LastEvaluatedKey` says whether it does.
        """
        request: dict[str, Any] = {
            "TableName": self.name,
            "IndexName": index,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": {k: to_dynamo(v) for k, v in values.items()},
            "ScanIndexForward": forward,
            "Limit": limit,
        }
        if start_key:
            request["ExclusiveStartKey"] = dict(start_key)
        response = self.client.query(**request)
        found = [item_from_dynamo(i) for i in response.get("Items", []) if is_live(i)]
        return found, response.get("LastEvaluatedKey") or None

    def scan_page(
        self,
        filter_expression: str,
        *,
        values: Mapping[str, Any],
        names: Mapping[str, str] | None = None,
        projection: str | None = None,
        segment: int = 0,
        total_segments: int = 1,
        start_key: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """One strongly consistent Scan page of one segment of the table (reads the whole
        segment over all pages): the items matching `filter_expression`, and the key to resume
        from (`LastEvaluatedKey`, None at the segment's end)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "FilterExpression": filter_expression,
            "ExpressionAttributeValues": {k: to_dynamo(v) for k, v in values.items()},
            "ConsistentRead": True,
            "Segment": segment,
            "TotalSegments": total_segments,
        }
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        if projection:
            request["ProjectionExpression"] = projection
        if start_key:
            request["ExclusiveStartKey"] = dict(start_key)
        if limit is not None:
            request["Limit"] = limit
        response = self.client.scan(**request)
        found = [item_from_dynamo(i) for i in response.get("Items", [])]
        return found, response.get("LastEvaluatedKey") or None

    def _paginate(
        self, operation: Any, request: dict[str, Any], limit: int | None
    ) -> Iterator[Item]:
        returned = 0
        while True:
            if limit is not None:
                request["Limit"] = max(1, limit - returned)
            response = operation(**request)
            for found in response.get("Items", []):
                if not is_live(found):
                    continue
                yield item_from_dynamo(found)
                returned += 1
                if limit is not None and returned >= limit:
                    return
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def put_many(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Write items in batches of 25 (unconditional: use for idempotent writes only)."""
        self._batch([{"PutRequest": {"Item": item_to_dynamo(i)}} for i in items])

    def delete_many(self, keys: Sequence[tuple[str, str]]) -> int:
        """Delete items by (pk, sk) in batches of 25; returns how many were asked."""
        self._batch([{"DeleteRequest": {"Key": _key(pk, sk)}} for pk, sk in keys])
        return len(keys)

    def _batch(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), _BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {self.name: requests[start : start + _BATCH_WRITE_LIMIT]}
            for attempt in range(8):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)  # backoff on throttling, as AWS advises
            else:
                from soorma_common.errors import TransientError

                raise TransientError(
                    f"BatchWriteItem on {self.name} left items unprocessed after 8 attempts"
                )


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def describe(item: Mapping[str, Any]) -> str:
    """How an error names an item: its kind and key (`working item T#acme#PLAN#p / WM#ada#k`)."""
    return f"{item.get('kind') or 'item'} {item.get('pk')} / {item.get('sk')}"


def put_operation(
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Put for `MemoryTable.transact` (size-checked like `put`)."""
    put: dict[str, Any] = {"Item": item_to_dynamo(item)}
    check_item_size(put["Item"], describe(item))
    _add_condition(put, condition, None, values)
    put.pop("ReturnValuesOnConditionCheckFailure", None)
    return {"Put": put}


def update_operation(
    pk: str,
    sk: str,
    expression: str,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    condition: str | None = None,
) -> dict[str, Any]:
    """An Update for `MemoryTable.transact`."""
    update: dict[str, Any] = {"Key": _key(pk, sk), "UpdateExpression": expression}
    if names:
        update["ExpressionAttributeNames"] = dict(names)
    if values:
        update["ExpressionAttributeValues"] = {k: to_dynamo(v) for k, v in values.items()}
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def _add_condition(
    request: dict[str, Any],
    condition: str | None,
    names: Mapping[str, str] | None,
    values: Mapping[str, Any] | None,
) -> None:
    if not condition:
        return
    request["ConditionExpression"] = condition
    request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    if values:
        request["ExpressionAttributeValues"] = {k: to_dynamo(v) for k, v in values.items()}
