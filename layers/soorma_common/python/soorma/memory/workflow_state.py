"""`WorkflowState`: a plan's working memory as one object, as in "Design Patterns"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soorma.memory.client import MemoryClient
from soorma.memory.keys import check_id
from soorma.memory.models import WorkingMemoryEntry

ACTIONS_KEY = "_actions"


class WorkflowState:
    """The working memory of one plan: `WorkflowState(context.memory, plan_id, tenant_id, user_id)`.

    `tenant_id` and `user_id` may be left out; when given they must be the memory client's (the
    handled event's), else `TenantIsolationError`. `increment`, `append` and `record_action` are
    single atomic DynamoDB updates; `set(..., expected_version=n)` is a compare-and-set.
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
        """Whether `key` holds a value."""
        return await self.memory.get_entry(self.plan_id, key) is not None

    async def delete(self, key: str) -> None:
        """Remove `key`."""
        await self.memory.delete(self.plan_id, key)

    async def increment(self, key: str, by: int | float = 1) -> int | float:
        """Add to a counter atomically (one UpdateItem with ADD); returns the new value."""
        return await self.memory.increment(self.plan_id, key, by)

    async def append(self, key: str, *values: Any) -> int:
        """Append to a list atomically; returns its new length."""
        return await self.memory.append(self.plan_id, key, *values)

    async def update_dict(self, key: str, updates: Mapping[str, Any]) -> None:
        """Set some keys of a dict without touching the others."""
        await self.memory.update_dict(self.plan_id, key, updates)

    async def record_action(self, action: str) -> int:
        """Append an action (e.g. the event type published) to the history; returns its length.

        The length is what a circuit breaker compares with its limit (`MAX_TOTAL_ACTIONS`).
        """
        return await self.memory.append(self.plan_id, ACTIONS_KEY, action)

    async def get_action_history(self) -> list[str]:
        """Every action recorded, in order."""
        history: list[str] = await self.memory.get(self.plan_id, ACTIONS_KEY, [])
        return history

    async def to_dict(self) -> dict[str, Any]:
        """Every key and value of this plan's working memory."""
        return await self.memory.items(self.plan_id)

    async def cleanup(self) -> int:
        """Delete all of this plan's working memory; returns how many entries were removed."""
        return await self.memory.clear(self.plan_id)
