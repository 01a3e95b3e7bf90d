"""Paged listings over the memory table's GSIs, with an opaque cursor.

The GSIs project keys and the few attributes listings filter on (`soorma_common.tables`), so a
plan update that changes no key writes nothing to them; a listing reads the matching keys from
the index, then the items themselves with one strongly consistent BatchGetItem per 100.

A listing is one or more *streams* (one Query each: a status of a user's plans, a shard of
user-less work), merged by their sort key. The cursor records, per stream, the key to resume
after (or that the stream is done), so the next page continues every stream where the merge
left it: nothing is skipped or repeated while the items keep their keys.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from soorma.memory.table import Item, MemoryTable
from soorma.memory.values import is_live, item_from_dynamo, to_dynamo
from soorma_common.errors import PermanentError, TransientError

_BATCH_GET_LIMIT = 100
T = TypeVar("T")
_DONE = "done"


class InvalidListCursorError(PermanentError, ValueError):
    """A cursor that is not one this listing returned (another user's, another filter's, or
    edited)."""


@dataclass(frozen=True)
class Stream:
    """One Query of a listing: the items of one index partition whose sort key starts with
    `prefix` (`key_value` is the partition)."""

    name: str
    key_value: str
    prefix: str | None = None


@dataclass(frozen=True)
class Listing:
    """How to list: the index, its key names, the streams, the order and a filter on the
    projected attributes (`filter_expression` with `values` / `names`)."""

    index: str
    key_name: str
    sort_name: str
    streams: Sequence[Stream]
    newest_first: bool = False
    filter_expression: str | None = None
    values: Mapping[str, Any] | None = None
    names: Mapping[str, str] | None = None
    #: The merge order of the streams' items (default: the index sort key); each stream's own
    #: Query order must agree with it.
    order: Callable[[Item], Any] | None = None


class Page(list[T]):
    """One page of a listing: a list of the items, and `cursor` for the next page (None when
    there is none)."""

    cursor: str | None

    def __init__(self, items: Sequence[T], cursor: str | None) -> None:
        super().__init__(items)
        self.cursor = cursor


def read_page(
    table: MemoryTable,
    listing: Listing,
    *,
    limit: int,
    cursor: str | None,
    keep: Callable[[Item], bool],
) -> tuple[list[Item], str | None]:
    """Up to `limit` whole items of `listing` after `cursor`, kept by `keep` (checked on the
    current items, since an index lags its table), and the cursor of the next page."""
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit must be between 1 and 1000, got {limit}")
    starts = _read_cursor(cursor, listing)
    heads: list[tuple[str, Item]] = []
    ends: dict[str, dict[str, Any] | None] = {}
    for stream in listing.streams:
        if stream.name in starts and starts[stream.name] is None:
            continue
        found, ends[stream.name] = _query(table, listing, stream, starts.get(stream.name), limit)
        heads += [(stream.name, item) for item in found]
    order = listing.order or (lambda item: str(item[listing.sort_name]))
    heads.sort(key=lambda head: order(head[1]), reverse=listing.newest_first)
    taken, rest = heads[:limit], heads[limit:]
    positions = dict(starts)  # absent: from the start; None: done
    for stream in listing.streams:
        if stream.name not in ends:
            continue
        mine = [item for name, item in taken if name == stream.name]
        if not any(name == stream.name for name, _ in rest):
            positions[stream.name] = ends[stream.name]
        elif mine:
            positions[stream.name] = _index_key(mine[-1], listing)
    items = [i for i in _get_items(table, [item for _, item in taken]) if keep(i)]
    done = all(s.name in positions and positions[s.name] is None for s in listing.streams)
    return items, None if done else _write_cursor(positions, listing)


def _query(
    table: MemoryTable, listing: Listing, stream: Stream, start: dict[str, Any] | None, limit: int
) -> tuple[list[Item], dict[str, Any] | None]:
    """Up to `limit` index entries of one stream (following pages when the filter drops some),
    and the key after the last one read (None: the stream is done)."""
    condition = f"{listing.key_name} = :soorma_key"
    values: dict[str, Any] = {**(listing.values or {}), ":soorma_key": stream.key_value}
    if stream.prefix is not None:
        condition += f" AND begins_with({listing.sort_name}, :soorma_prefix)"
        values[":soorma_prefix"] = stream.prefix
    request: dict[str, Any] = {
        "TableName": table.name,
        "IndexName": listing.index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": {k: to_dynamo(v) for k, v in values.items()},
        "ScanIndexForward": not listing.newest_first,
    }
    if listing.filter_expression:
        request["FilterExpression"] = listing.filter_expression
    if listing.names:
        request["ExpressionAttributeNames"] = dict(listing.names)
    found: list[Item] = []
    while True:
        request["Limit"] = limit - len(found)
        if start:
            request["ExclusiveStartKey"] = start
        response = table.client.query(**request)
        found += [item_from_dynamo(i) for i in response.get("Items", []) if is_live(i)]
        start = response.get("LastEvaluatedKey") or None
        if start is None or len(found) >= limit:
            return found, start


def _get_items(table: MemoryTable, entries: Sequence[Item]) -> list[Item]:
    """The live table items of index entries, in the entries' order (consistent reads)."""
    wanted = list(dict.fromkeys((str(e["pk"]), str(e["sk"])) for e in entries))
    got: dict[tuple[str, str], Item] = {}
    for start in range(0, len(wanted), _BATCH_GET_LIMIT):
        keys: list[dict[str, Any]] = [
            {"pk": {"S": pk}, "sk": {"S": sk}}
            for pk, sk in wanted[start : start + _BATCH_GET_LIMIT]
        ]
        for attempt in range(8):
            response = table.client.batch_get_item(
                RequestItems={table.name: {"Keys": keys, "ConsistentRead": True}}
            )
            for raw in response.get("Responses", {}).get(table.name, []):
                if is_live(raw):
                    item = item_from_dynamo(raw)
                    got[(str(item["pk"]), str(item["sk"]))] = item
            keys = response.get("UnprocessedKeys", {}).get(table.name, {}).get("Keys", [])
            if not keys:
                break
            time.sleep(0.05 * 2**attempt)  # backoff on throttling, as AWS advises
        else:
            raise TransientError(f"BatchGetItem on {table.name} left keys unread after 8 attempts")
    return [got[key] for key in wanted if key in got]


def _index_key(item: Item, listing: Listing) -> dict[str, Any]:
    names = ("pk", "sk", listing.key_name, listing.sort_name)
    return {name: {"S": str(item[name])} for name in names}


def _write_cursor(positions: Mapping[str, dict[str, Any] | None], listing: Listing) -> str:
    state = {name: _DONE if key is None else key for name, key in positions.items()}
    encoded = json.dumps({"index": listing.index, "at": state}, separators=(",", ":"))
    return base64.urlsafe_b64encode(encoded.encode()).decode()


def _read_cursor(cursor: str | None, listing: Listing) -> dict[str, dict[str, Any] | None]:
    if cursor is None:
        return {}
    try:
        parsed = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = parsed["at"]
        assert parsed["index"] == listing.index and isinstance(at, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise InvalidListCursorError(f"not a cursor of this listing: {cursor[:80]!r}") from None
    streams = {s.name: s for s in listing.streams}
    starts: dict[str, dict[str, Any] | None] = {}
    for name, key in at.items():
        stream = streams.get(name)
        if key == _DONE and stream is not None:
            starts[name] = None
            continue
        partition = key.get(listing.key_name, {}).get("S") if isinstance(key, dict) else None
        if stream is None or partition != stream.key_value:
            raise InvalidListCursorError(
                "this cursor was returned by another listing (another user, index or filter): "
                "list again without a cursor"
            )
        starts[name] = key
    return starts
