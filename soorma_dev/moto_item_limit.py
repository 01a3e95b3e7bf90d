"""DynamoDB's item size limit on moto: 400 KB (409,600 bytes), where moto refuses at 405,000.

moto refuses an item whose attributes take over 405,000 bytes by its count ("to be safe", in
`moto/dynamodb/models/dynamo_type.py`, `LimitedSizeDict`); DynamoDB's limit is 400 KB, names and
values together. The runtime budgets the events stored with a claim up to that limit
(`soorma.outbox.MAX_STORED_OUTBOX_BYTES`), so unpatched moto refuses outboxes DynamoDB stores,
and the local cloud's faithful mode would dead-letter what AWS handles.
`use_dynamodb_item_limit()` makes moto refuse items over DynamoDB's limit instead, still counting
sizes as moto does (as DynamoDB does for names, strings and binaries; moto counts a number by its
digits and adds nothing for a list's or map's own overhead). It is applied wherever Soorma runs
moto: the local cloud's server, `MotoHarness` and the `soorma_moto` / `soorma_tables` fixtures.
"""

from __future__ import annotations

from typing import Any

from soorma.dynamodb_items import ITEM_LIMIT_BYTES


def use_dynamodb_item_limit() -> None:
    """Make moto refuse (`ValidationException`, as DynamoDB) an item over `ITEM_LIMIT_BYTES`
    (process-wide, once)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    limited = dynamo_type.LimitedSizeDict
    if getattr(limited.__setitem__, "__soorma_limit__", False):
        return
    attribute = dynamo_type.DynamoType

    def size_of(value: Any) -> int:
        return value.size() if type(value) is attribute else bytesize(str(value))

    def set_within_limit(self: dict[str, Any], key: str, value: Any) -> None:
        kept = sum(bytesize(name) + size_of(v) for name, v in self.items() if name != key)
        if kept + bytesize(key) + size_of(value) > ITEM_LIMIT_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    set_within_limit.__soorma_limit__ = True  # type: ignore[attr-defined]
    limited.__setitem__ = set_within_limit  # type: ignore[method-assign]
