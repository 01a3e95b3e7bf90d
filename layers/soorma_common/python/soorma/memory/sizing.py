"""Item sizes as DynamoDB counts them, and the permanent error for an item over its 400 KB limit.

The sizes themselves are `soorma.dynamodb_items` (shared with the registry), re-exported here.
A write over DynamoDB's item limit is refused with a `ValidationException` that a retry can
never fix: the memory client measures an item before writing it and raises `ItemTooLargeError`
(permanent: the event goes to the DLQ at once) naming the item, its size and the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soorma.dynamodb_items import (
    ITEM_LIMIT_BYTES,
    WRITE_UNIT_BYTES,
    attribute_size,
    item_size,
    number_size,
    write_units,
)
from soorma_common.errors import PermanentError

__all__ = [
    "ITEM_LIMIT_BYTES",
    "WRITE_UNIT_BYTES",
    "ItemTooLargeError",
    "attribute_size",
    "check_item_size",
    "item_size",
    "number_size",
    "write_units",
]


class ItemTooLargeError(PermanentError, ValueError):
    """An item (working-memory entry, action, reply, interaction, plan) over DynamoDB's 400 KB."""


def check_item_size(item: Mapping[str, Any], what: str) -> int:
    """Return the size of `item` (a DynamoDB item), or raise `ItemTooLargeError` naming `what`."""
    size = item_size(item)
    if size > ITEM_LIMIT_BYTES:
        raise ItemTooLargeError(
            f"{what} would be {size:,} bytes, over DynamoDB's item limit of {ITEM_LIMIT_BYTES:,} "
            "bytes (400 KB): store large content elsewhere (e.g. S3) and keep a reference"
        )
    return size
