"""`MemoryClient`: plans, sessions, working memory and episodic memory of one tenant and user."""

from __future__ import annotations

from soorma.memory.actions import ActionHistoryOperations
from soorma.memory.episodic import EpisodicOperations
from soorma.memory.plans import PlanOperations
from soorma.memory.scope import DEFAULT_TENANT, DEFAULT_USER, MemoryScope, check_construction
from soorma.memory.sessions import SessionOperations
from soorma.memory.table import MemoryTable
from soorma.memory.working import WorkingMemoryOperations


class MemoryClient(
    PlanOperations,
    SessionOperations,
    WorkingMemoryOperations,
    ActionHistoryOperations,
    EpisodicOperations,
):
    """The memory of one tenant and user (inside a handler: the handled event's).

    Every call is bound to that tenant and user: a call that names another one raises
    `TenantIsolationError`. The scope is read-only and the table private; while a handler runs,
    building a client for another tenant or user raises `TenantIsolationError` too (see
    docs/memory.md, "Isolation", for what this does and does not enforce). All methods are
    coroutines (`await context.memory.get_plan(...)`), but each makes blocking boto3 calls:
    they do not yield to the event loop while DynamoDB answers. Erasing a user or tenant is not
    here: it is `MemoryEraser`'s, an operator's tool.
    """

    def __init__(
        self,
        tenant_id: str = DEFAULT_TENANT,
        user_id: str = DEFAULT_USER,
        *,
        table: MemoryTable | None = None,
    ) -> None:
        scope = MemoryScope(tenant_id, user_id)
        check_construction(scope)
        super().__init__(table or MemoryTable.from_settings(), scope)

    def __repr__(self) -> str:
        return f"MemoryClient(tenant_id={self.tenant_id!r}, user_id={self.user_id!r})"
