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
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from soorma import clients
from soorma.config import settings

if TYPE_CHECKING:  # pragma: no cover
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_BATCH_WRITE_LIMIT = 25

Item = dict[str, Any]


class MemoryTableNotConfiguredError(RuntimeError):
    """No memory table name: set `SOORMA_MEMORY_TABLE` (the stack and `soorma dev` do)."""


class ConditionFailed(Exception):
    """A conditional write whose condition did not hold; `current` is the item as it was."""

    def __init__(self, current: Item | None) -> None:
        super().__init__("conditional check failed")
        self.current = current


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@cache
def _serializer() -> TypeSerializer:
    # boto3 is imported on first use, not when the SDK is imported (the cold start).
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def to_dynamo(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value."""
    return _serializer().serialize(_decimals(value))  # type: ignore[no-any-return]


def from_dynamo(value: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as plain Python."""
    return _plain(_deserializer().deserialize(value))


def item_to_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Python dict as a DynamoDB item (None values are left out)."""
    return {k: to_dynamo(v) for k, v in item.items() if v is not None}


def item_from_dynamo(item: Mapping[str, Any]) -> Item:
    """A DynamoDB item as a Python dict."""
    return {k: from_dynamo(v) for k, v in item.items()}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


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
        return item_from_dynamo(found) if found else None

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a whole item, optionally only if `condition` holds (else `ConditionFailed`)."""
        request: dict[str, Any] = {"TableName": self.name, "Item": item_to_dynamo(item)}
        _add_condition(request, condition, names, values)
        self._write(self.client.put_item, request)

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
    ) -> None:
        """Delete one item, optionally only if `condition` holds."""
        request: dict[str, Any] = {"TableName": self.name, "Key": _key(pk, sk)}
        _add_condition(request, condition, names, values)
        self._write(self.client.delete_item, request)

    def _write(self, operation: Any, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return operation(**request)  # type: ignore[no-any-return]
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item")
            raise ConditionFailed(item_from_dynamo(old) if old else None) from None

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
