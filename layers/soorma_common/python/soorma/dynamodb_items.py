"""Item sizes as DynamoDB counts them (its 400 KB item limit), for every table we write.

DynamoDB's item limit is 400 KB: the UTF-8 bytes of every attribute name plus the size of every
value (strings: UTF-8 bytes; numbers: about one byte per two significant digits, plus one;
binary: its bytes; booleans and null: 1; lists and maps: 3 bytes plus 1 per element plus the
elements, and the key names of a map; sets: their elements). A write over it is refused by
DynamoDB with a `ValidationException` that a retry can never fix, so writers measure an item
before writing it. Pure functions on low-level items (`{"S": ...}` values); this module imports
nothing of ours, so the registry and the memory package share it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

#: DynamoDB's item size limit (400 KB, counted in bytes of 1,024).
ITEM_LIMIT_BYTES = 400 * 1024
#: Bytes a write unit covers (one write unit per started KB of the item written).
WRITE_UNIT_BYTES = 1024


def attribute_size(value: Mapping[str, Any]) -> int:
    """The size of one DynamoDB attribute value (`{"S": ...}`, `{"M": {...}}`, ...)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in inner.items())
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    raise ValueError(f"not a DynamoDB attribute value: {kind!r}")


def number_size(number: str | int | Decimal) -> int:
    """A number's size: one byte per two significant digits (rounded up), plus one."""
    digits = Decimal(str(number)).normalize().as_tuple().digits
    significant = len(digits) or 1
    return (significant + 1) // 2 + 1


def item_size(item: Mapping[str, Any]) -> int:
    """The size of a DynamoDB item (attribute name -> attribute value), as DynamoDB counts it."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(item: Mapping[str, Any]) -> int:
    """The write units a write of this DynamoDB item costs (1 per started KB; GSIs not counted)."""
    return max(1, -(-item_size(item) // WRITE_UNIT_BYTES))
