"""Plain Python values to and from DynamoDB attribute values.

Values go in and out as JSON-like Python (dict, list, str, int, float, bool, None); floats are
stored as DynamoDB numbers (via `Decimal`) and come back as `int` when integral, else `float`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from soorma_common.delivery import TTL_ATTRIBUTE

if TYPE_CHECKING:  # pragma: no cover
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

Item = dict[str, Any]


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


def is_live(item: Mapping[str, Any], now: float | None = None) -> bool:
    """False for an item whose `expires_at` has passed: DynamoDB deletes such items only when
    its TTL process gets to them (it can take days), so every read filters them out."""
    expires = item.get(TTL_ATTRIBUTE)
    if expires is None:
        return True
    if isinstance(expires, Mapping):  # still in DynamoDB's form
        expires = expires.get("N", 0)
    return float(expires) >= (time.time() if now is None else now)
