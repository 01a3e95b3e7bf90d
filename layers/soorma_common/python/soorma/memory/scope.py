"""`MemoryScope`: the one tenant and user a memory client may touch, and the check of every call."""

from __future__ import annotations

from dataclasses import dataclass

from soorma.handled_scope import DEFAULT_TENANT, DEFAULT_USER, HANDLED, handling
from soorma.memory.keys import check_id
from soorma.memory.table import MemoryTable
from soorma_common.errors import TenantIsolationError

__all__ = [
    "DEFAULT_TENANT",
    "DEFAULT_USER",
    "MemoryScope",
    "ScopedMemory",
    "check_construction",
    "handled_scope",
    "handling",
    "table_of",
]


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


_HANDLED = HANDLED  # defined with `handling` in `soorma.handled_scope` (a leaf)


def handled_scope() -> tuple[str, str] | None:
    """The handled event's (tenant, user) while a handler runs, else None."""
    return _HANDLED.get()


def check_construction(scope: MemoryScope) -> None:
    """Refuse a memory client for another tenant or user while a handler runs: inside a handler
    the only memory is the handled event's (`context.memory`); erasure and cross-tenant reads are
    operators' tools, run outside handlers."""
    handled = _HANDLED.get()
    if handled is None or handled == (scope.tenant_id, scope.user_id):
        return
    tenant_id, user_id = handled
    raise TenantIsolationError(
        f"a memory client for tenant {scope.tenant_id!r} / user {scope.user_id!r} cannot be "
        f"built while a handler of tenant {tenant_id!r} / user {user_id!r} runs: "
        "use context.memory (the handled event's); other tenants are for operators' tools"
    )


class ScopedMemory:
    """Base of the memory operations: a table and a scope, both fixed when it is built."""

    def __init__(self, table: MemoryTable, scope: MemoryScope) -> None:
        self.__table = table
        self.__scope = scope

    @property
    def scope(self) -> MemoryScope:
        """The tenant and user every call is bound to (read-only)."""
        return self.__scope

    @property
    def tenant_id(self) -> str:
        """The tenant every call is bound to."""
        return self.__scope.tenant_id

    @property
    def user_id(self) -> str:
        """The user every call is bound to."""
        return self.__scope.user_id

    @property
    def table_name(self) -> str:
        """The memory table's name."""
        return self.__table.name

    def _table(self) -> MemoryTable:
        return self.__table

    def item_stamp(self, kind: str) -> dict[str, str]:
        """The attributes every item carries (what per-user and per-tenant deletion scan for)."""
        return {"kind": kind, "tenant_id": self.tenant_id, "user_id": self.user_id}


def table_of(memory: ScopedMemory) -> MemoryTable:
    """The table behind a memory client, for the platform's own modules (`soorma.workflows`),
    which form their keys with the client's tenant and user. Not for handler code: with a raw
    table any key can be written (see docs/memory.md, "Isolation")."""
    return memory._table()
