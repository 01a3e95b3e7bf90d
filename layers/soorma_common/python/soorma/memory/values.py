"""Plain Python values to and from DynamoDB attribute values.

Values go in and out as JSON-like Python (dict, list, str, int, float, bool, None); floats are
stored as DynamoDB numbers (via `Decimal`) and come back as `int` when integral, else `float`.

DynamoDB numbers hold at most 38 significant digits, with a magnitude from 1E-130 to 9.99E+125:
a value holding any other number (valid JSON, e.g. `10**40`) is refused with
`UnstorableNumberError` (permanent) naming where the number is. Data that must be kept whatever
it holds (a reply's data, a goal's data: JSON that the bus already carried) can be stored as
JSON text instead (`with_json_text`, an `S` attribute `<name>_json`, whose size is the JSON's)
and read back with `with_json_read`, which also reads items written as maps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from decimal import Decimal, DecimalException
from functools import cache
from typing import TYPE_CHECKING, Any

from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.errors import UnstorableNumberError

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


#: The suffix of the attribute that holds a value as JSON text (`with_json_text`).
JSON_TEXT_SUFFIX = "_json"


def to_dynamo(value: Any, path: str = "value") -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value; `UnstorableNumberError` (naming `path`
    and the place of the number in it) for a number DynamoDB cannot hold."""
    try:
        return _serializer().serialize(_decimals(value))  # type: ignore[no-any-return]
    except DecimalException:
        raise UnstorableNumberError(_unstorable_number(value, path)) from None


def from_dynamo(value: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as plain Python."""
    return _plain(_deserializer().deserialize(value))


def item_to_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Python dict as a DynamoDB item (None values are left out)."""
    return {k: to_dynamo(v, k) for k, v in item.items() if v is not None}


def item_from_dynamo(item: Mapping[str, Any]) -> Item:
    """A DynamoDB item as a Python dict."""
    return {k: from_dynamo(v) for k, v in item.items()}


def with_json_text(item: Mapping[str, Any], name: str) -> Item:
    """`item` with its attribute `name` kept as compact JSON text in `<name>_json` (an `S`
    attribute): any JSON number is kept intact, and the stored size is the JSON's (a value of
    nested lists counts about twice its JSON as a DynamoDB map). Read it with `with_json_read`."""
    stored = {k: v for k, v in item.items() if k != name}
    stored[name + JSON_TEXT_SUFFIX] = json.dumps(
        item.get(name), ensure_ascii=False, separators=(",", ":")
    )
    return stored


def with_json_read(item: Mapping[str, Any], name: str) -> Item:
    """`item` with attribute `name` as plain Python, whether it was stored as a value (a map,
    a number...) or as JSON text by `with_json_text`."""
    text = item.get(name + JSON_TEXT_SUFFIX)
    read = {k: v for k, v in item.items() if k != name + JSON_TEXT_SUFFIX}
    if isinstance(text, str) and read.get(name) is None:
        read[name] = json.loads(text)
    return read


def is_storable(value: Any) -> bool:
    """Whether `to_dynamo` can store `value` (False: it holds a number DynamoDB cannot hold)."""
    try:
        to_dynamo(value)
    except UnstorableNumberError:
        return False
    return True


def _unstorable_number(value: Any, path: str) -> str:
    found = _first_unstorable(value, path)
    where, number = found if found is not None else (path, "a number")
    shown = str(number) if len(str(number)) <= 48 else f"{str(number)[:45]}..."
    return (
        f"{where} holds the number {shown}, which DynamoDB cannot store: its numbers hold at "
        "most 38 significant digits, with a magnitude from 1E-130 to 9.99E+125 (or 0); send "
        "such a number as a string"
    )


def _first_unstorable(value: Any, path: str) -> tuple[str, Any] | None:
    """Where the first number DynamoDB cannot hold is in `value`, and the number."""
    from boto3.dynamodb.types import DYNAMODB_CONTEXT

    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        try:
            DYNAMODB_CONTEXT.create_decimal(_decimals(value))
        except DecimalException:
            return path, value
        return None
    if isinstance(value, Mapping):
        children: Any = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list | tuple | set | frozenset):
        children = ((f"{path}[{n}]", v) for n, v in enumerate(value))
    else:
        return None
    for child_path, child in children:
        found = _first_unstorable(child, child_path)
        if found is not None:
            return found
    return None


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
