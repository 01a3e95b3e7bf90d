"""`WorkflowState`: a plan's working memory as one object, as in "Design Patterns"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from soorma.memory.client import MemoryClient
from soorma.memory.keys import check_id
from soorma.memory.models import WorkingMemoryEntry
from soorma_common.errors import PermanentError


class SnapshotNotLoadedError(PermanentError, LookupError):
    """`state["key"]` before `await state.load()`: subscripting reads the loaded snapshot."""


class WorkflowState:
    """The working memory of one plan: `WorkflowState(context.memory, plan_id, tenant_id, user_id)`.

    `tenant_id` and `user_id` may be left out; when given they must be the memory client's (the
    handled event's), else `TenantIsolationError`. `increment`, `append`, `extend` and
    `update_dict` are single atomic DynamoDB updates; `set(..., expected_version=n)` is a
    compare-and-set. `await state.load()` reads every key once; then `state["draft"]["text"]`
    reads that snapshot (a coroutine cannot hide behind `[]`).
    """

    def __init__(
        self,
        memory: MemoryClient,
        plan_id: str,
        tenant_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        memory.scope.check(tenant_id, user_id)
        self.memory = memory
        self.plan_id = check_id("plan_id", plan_id)
        self._snapshot: dict[str, Any] | None = None

    async def set(self, key: str, value: Any, *, expected_version: int | None = None) -> int:
        """Store a value; returns its new version (see `MemoryClient.set`)."""
        return await self.memory.set(self.plan_id, key, value, expected_version=expected_version)

    async def get(self, key: str, default: Any = None) -> Any:
        """The value of `key`, or `default`."""
        return await self.memory.get(self.plan_id, key, default)

    async def get_entry(self, key: str) -> WorkingMemoryEntry | None:
        """The value with its version (for a later compare-and-set)."""
        return await self.memory.get_entry(self.plan_id, key)

    async def has(self, key: str) -> bool:
        """Whether `key` holds a value (a stored `None` is no value)."""
        entry = await self.memory.get_entry(self.plan_id, key)
        return entry is not None and entry.value is not None

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if it was there."""
        return await self.memory.delete(self.plan_id, key)

    async def increment(self, key: str, delta: int | float = 1) -> int | float:
        """Add `delta` to a counter atomically (one UpdateItem with ADD); returns the new value."""
        return await self.memory.increment(self.plan_id, key, delta)

    async def append(self, key: str, *values: Any) -> list[Any]:
        """Append values to a list atomically; returns the list as it is now."""
        return await self.memory.extend(self.plan_id, key, values)

    async def extend(self, key: str, values: Iterable[Any]) -> list[Any]:
        """Append every value of `values` to a list atomically; returns the list as it is now."""
        return await self.memory.extend(self.plan_id, key, values)

    async def update_dict(self, key: str, updates: Mapping[str, Any]) -> dict[str, Any]:
        """Set some keys of a dict without touching the others; returns the dict as it is now."""
        return await self.memory.update_dict(self.plan_id, key, updates)

    async def record_action(self, action: str) -> int:
        """Append an action (e.g. the event type published) to the history; returns its length.

        The length is what a circuit breaker compares with its limit (`MAX_TOTAL_ACTIONS`). The
        history is platform state, outside the working-memory keys (`set` cannot reach it), one
        item per action: each call costs the same however long the history is.
        """
        return await self.memory.record_action(self.plan_id, action)

    async def get_action_history(self) -> list[str]:
        """Every action recorded, in order."""
        return await self.memory.action_history(self.plan_id)

    async def to_dict(self) -> dict[str, Any]:
        """Every key and value of this plan's working memory."""
        return await self.memory.items(self.plan_id)

    async def load(self) -> WorkflowState:
        """Read every key once (one Query) for `state["key"]`; returns this state."""
        self._snapshot = await self.to_dict()
        return self

    def __getitem__(self, key: str) -> Any:
        if self._snapshot is None:
            raise SnapshotNotLoadedError(
                f"state[{key!r}] reads the snapshot of `await state.load()`, which was not "
                "called; or use `await state.get(key)`"
            )
        return self._snapshot[key]

    def __contains__(self, key: object) -> bool:
        return self._snapshot is not None and key in self._snapshot

    def __str__(self) -> str:
        return str(self._snapshot if self._snapshot is not None else {})

    def __repr__(self) -> str:
        return f"WorkflowState(plan_id={self.plan_id!r}, snapshot={self._snapshot!r})"

    async def cleanup(self) -> int:
        """Delete this plan's working memory and action history; returns the items removed."""
        return await self.memory.clear(self.plan_id) + await self.memory.clear_actions(self.plan_id)
