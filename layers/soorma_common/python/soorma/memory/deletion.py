"""The right to be forgotten: `MemoryEraser` deletes every memory item of a user or a tenant.

It is an operator's tool (an admin script, a dedicated Lambda), not a handler's: it is not on
`context.memory`, because any agent handling one event of a tenant would otherwise be able to
erase the whole tenant. It takes the tenant (and user) as arguments, so only code that holds
delete rights on the table and means it can call it.

Every item of the table carries `tenant_id` and `user_id`, and every partition key starts with
`T#<tenant>#`; the eraser scans for them, so no kind of item can be missed. A scan reads the
whole table (see docs/memory.md for the cost): indexing every item by user instead would add a
GSI write to every working-memory update, the hottest path, to speed up a rare operation. The
scan is strongly consistent (an item written just before is seen), can be split into parallel
segments, and stops after `max_pages` with a `cursor` to resume from, so a large table can be
erased by several invocations that each stay within Lambda's 15 minutes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from soorma.memory import keys
from soorma.memory.table import MemoryTable


class InvalidErasureCursorError(ValueError):
    """A cursor that is not one this eraser returned for the same segment and target."""


@dataclass(frozen=True)
class ErasureProgress:
    """What one eraser call did: items deleted, and where to resume (None when done)."""

    deleted: int
    cursor: str | None

    @property
    def done(self) -> bool:
        """Whether the segment was scanned to its end."""
        return self.cursor is None


class MemoryEraser:
    """Delete all memory items of a tenant, or of one user of a tenant (operators only).

    ```python
    eraser = MemoryEraser()                      # the table of SOORMA_MEMORY_TABLE
    progress = eraser.forget_user("acme", "ada")
    while not progress.done:                     # only when max_pages stopped it early
        progress = eraser.forget_user("acme", "ada", cursor=progress.cursor)
    ```

    For a large table run `total_segments` workers, each with its own `segment` (0-based), each
    resuming from its own cursor.
    """

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table or MemoryTable.from_settings()

    def _user_filter(self, tenant_id: str, user_id: str) -> tuple[str, dict[str, Any]]:
        return "begins_with(pk, :tenant) AND user_id = :user", {
            ":tenant": keys.tenant_prefix(tenant_id),
            ":user": keys.check_id("user_id", user_id),
        }

    def _tenant_filter(self, tenant_id: str) -> tuple[str, dict[str, Any]]:
        return "begins_with(pk, :tenant)", {":tenant": keys.tenant_prefix(tenant_id)}

    def forget_user(
        self,
        tenant_id: str,
        user_id: str,
        *,
        segment: int = 0,
        total_segments: int = 1,
        cursor: str | None = None,
        max_pages: int | None = None,
        page_size: int | None = None,
    ) -> ErasureProgress:
        """Delete every item of `user_id` in `tenant_id` (in this segment of the table)."""
        return self._erase(
            *self._user_filter(tenant_id, user_id),
            target=f"{tenant_id}/{user_id}",
            segment=segment,
            total_segments=total_segments,
            cursor=cursor,
            max_pages=max_pages,
            page_size=page_size,
        )

    def forget_tenant(
        self,
        tenant_id: str,
        *,
        segment: int = 0,
        total_segments: int = 1,
        cursor: str | None = None,
        max_pages: int | None = None,
        page_size: int | None = None,
    ) -> ErasureProgress:
        """Delete every item of `tenant_id`, all users (in this segment of the table)."""
        return self._erase(
            *self._tenant_filter(tenant_id),
            target=tenant_id,
            segment=segment,
            total_segments=total_segments,
            cursor=cursor,
            max_pages=max_pages,
            page_size=page_size,
        )

    def _erase(
        self,
        filter_expression: str,
        values: dict[str, Any],
        *,
        target: str,
        segment: int,
        total_segments: int,
        cursor: str | None,
        max_pages: int | None,
        page_size: int | None,
    ) -> ErasureProgress:
        if not 0 <= segment < total_segments:
            raise ValueError(f"segment {segment} is not in 0..{total_segments - 1}")
        place = {"target": target, "segment": segment, "total_segments": total_segments}
        start = _read_cursor(cursor, place)
        deleted = pages = 0
        while True:
            found, start = self.table.scan_page(
                filter_expression,
                values=values,
                projection="pk, sk",
                segment=segment,
                total_segments=total_segments,
                start_key=start,
                limit=page_size,
            )
            deleted += self.table.delete_many([(i["pk"], i["sk"]) for i in found])
            pages += 1
            if start is None:
                return ErasureProgress(deleted, None)
            if max_pages is not None and pages >= max_pages:
                return ErasureProgress(deleted, json.dumps({**place, "key": start}))


class EventLogEraser(MemoryEraser):
    """Delete every event-log item of a tenant, or of one user of a tenant (operators only):
    the events whose envelope names them (`tenantid`, `userid`), by the attributes the event
    log stores with each (`functions/event_log`). Same calls, segments and cursors as
    `MemoryEraser`; events that name no tenant belong to none and stay until their TTL."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        if table is None:
            from soorma.config import settings

            name = settings().events_table
            if not name:
                raise RuntimeError("SOORMA_EVENTS_TABLE is not set: which event log to erase?")
            table = MemoryTable(name, ttl_seconds=0)
        super().__init__(table)

    # The ids are filter operands, never part of a key: the log stores any tenant or user the
    # envelope names (`#`, any length), so any non-empty string must be erasable.
    def _user_filter(self, tenant_id: str, user_id: str) -> tuple[str, dict[str, Any]]:
        return "tenant_id = :tenant AND user_id = :user", {
            ":tenant": _filter_operand("tenant_id", tenant_id),
            ":user": _filter_operand("user_id", user_id),
        }

    def _tenant_filter(self, tenant_id: str) -> tuple[str, dict[str, Any]]:
        return "tenant_id = :tenant", {":tenant": _filter_operand("tenant_id", tenant_id)}


def _filter_operand(kind: str, value: str | None) -> str:
    """Return `value` if it is a non-empty string, else raise `InvalidMemoryIdError`."""
    if not isinstance(value, str) or not value:
        raise keys.InvalidMemoryIdError(f"{kind} must be a non-empty string, got {value!r}")
    return value


def _read_cursor(cursor: str | None, place: dict[str, Any]) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        parsed = json.loads(cursor)
        key: dict[str, Any] = parsed.pop("key")
    except (ValueError, KeyError, AttributeError):
        raise InvalidErasureCursorError(f"not an erasure cursor: {cursor[:80]!r}") from None
    if parsed != place:
        raise InvalidErasureCursorError(
            f"this cursor was returned for {parsed}, not for {place}: resume with the same "
            "target, segment and total_segments"
        )
    return key
