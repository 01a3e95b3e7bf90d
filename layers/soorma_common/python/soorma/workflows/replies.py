"""The replies stored in a fan-in group: how a reply item is written, and read back.

A reply item (`REPLY#<n>` in its group's partition) keeps the reply's data as a DynamoDB value
(a map, a number...) when it can. Data the bus carried can still be beyond what DynamoDB holds
that way: a number of more than 38 digits (`10**40` is valid JSON), or nested lists that
DynamoDB counts at about twice their JSON size (240 KB of JSON, under the 256 KB event limit,
is ~450 KB as a map, over the 400 KB item limit). Such data is stored as JSON text
(`data_json`, an `S` attribute: intact, and as large as the JSON, so a reply that fits in an
event fits in an item), and read back as if it were a map. Only data whose JSON is over 400 KB,
which no event can carry (a reply recorded by hand), is refused (`ItemTooLargeError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from soorma.memory import keys
from soorma.memory.client import MemoryClient
from soorma.memory.scope import table_of
from soorma.memory.sizing import ItemTooLargeError
from soorma.memory.table import Item, put_operation
from soorma.memory.values import with_json_read, with_json_text
from soorma_common.errors import UnstorableNumberError

#: A reply is written only if its request has no reply yet (a redelivery is not counted twice).
FIRST_REPLY = "attribute_not_exists(sk)"


@dataclass(frozen=True)
class SubResult:
    """The reply to one delegated sub-request."""

    request_id: str
    request_type: str
    response_event: str
    event_type: str
    event_id: str
    data: Any
    key: str = ""

    @property
    def success(self) -> bool:
        """False when the reply says `{"success": false, ...}` (a responder's domain error)."""
        return not (isinstance(self.data, Mapping) and self.data.get("success") is False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> SubResult:
        """From a reply item of a group (its data stored as a value or as JSON text)."""
        item = with_json_read(item, "data")
        return cls(
            request_id=item.get("request_id", ""),
            request_type=item.get("request_type", ""),
            response_event=item.get("response_event", ""),
            event_type=item.get("event_type", ""),
            event_id=item.get("event_id", ""),
            data=item.get("data"),
            key=item.get("key") or item.get("response_event", ""),
        )


def results_of(memory: MemoryClient, group: Item) -> dict[str, SubResult]:
    """The replies recorded in a group, by request id, in delegation order (one Query)."""
    found = table_of(memory).query(
        "pk = :pk AND begins_with(sk, :reply)",
        values={":pk": group["pk"], ":reply": keys.REPLY_PREFIX},
    )
    return {r.request_id: r for r in map(SubResult.from_item, found)}


def reply_put(reply: Item) -> dict[str, Any]:
    """The Put (for `MemoryTable.transact`) of a reply item, in the first form DynamoDB can
    hold: its data as a value, else as JSON text. Data whose JSON text is over the item limit
    too (never a reply off the bus: events are at most 256 KB) is `ItemTooLargeError`."""
    try:
        return put_operation(reply, condition=FIRST_REPLY)
    except (UnstorableNumberError, ItemTooLargeError):
        return put_operation(with_json_text(reply, "data"), condition=FIRST_REPLY)
