"""`MemoryScope`: the one tenant and user a memory client may touch, and the check of every call."""

from __future__ import annotations

from dataclasses import dataclass

from soorma.memory.keys import check_id
from soorma.memory.table import MemoryTable
from soorma_common.errors import TenantIsolationError

#: The tenant and user of events that carry none (single-tenant applications, scripts).
DEFAULT_TENANT = "default"
DEFAULT_USER = "anonymous"


@dataclass(frozen=True)
class MemoryScope:
    """A tenant and a user. Inside a handler both are the handled event's."""

    tenant_id: str
    user_id: str

    def __post_init__(self) -> None:
        check_id("tenant_id", self.tenant_id)
        check_id("user_id", self.user_id)

    def check(self, tenant_id: str | None = None, user_id: str | None = None) -> None:
        """Refuse a call that names another tenant or user than this scope's."""
        if tenant_id is not None and tenant_id != self.tenant_id:
            raise TenantIsolationError(
                f"this memory client is bound to tenant {self.tenant_id!r} (the handled event's); "
                f"a call for tenant {tenant_id!r} is refused. Leave tenant_id out"
            )
        if user_id is not None and user_id != self.user_id:
            raise TenantIsolationError(
                f"this memory client is bound to user {self.user_id!r} of tenant "
                f"{self.tenant_id!r}; a call for user {user_id!r} is refused. Leave user_id out"
            )


class ScopedMemory:
    """Base of the memory operations: a table and a scope."""

    def __init__(self, table: MemoryTable, scope: MemoryScope) -> None:
        self.table = table
        self.scope = scope

    @property
    def tenant_id(self) -> str:
        """The tenant every call is bound to."""
        return self.scope.tenant_id

    @property
    def user_id(self) -> str:
        """The user every call is bound to."""
        return self.scope.user_id

    def item_stamp(self, kind: str) -> dict[str, str]:
        """The attributes every item carries (what per-user and per-tenant deletion scan for)."""
        return {"kind": kind, "tenant_id": self.tenant_id, "user_id": self.user_id}
