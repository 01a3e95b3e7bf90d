"""The tenant and user of the event being handled, while its handler runs.

A leaf module, so that the runtime marks each handler call (`handling`) without importing the
memory package (its clients, tables and models: a share of the cold start a handler that uses no
memory never needs). `soorma.memory.scope` reads the same context variable to refuse, inside a
handler, a memory client for another tenant or user.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType

#: The tenant of events that carry none (single-tenant applications, scripts).
DEFAULT_TENANT = "default"
#: The user of events that carry none: `soorma.memory.keys.OWNERLESS_USER`.
DEFAULT_USER = "anonymous"

#: The tenant and user of the event being handled, while a handler runs (None outside one).
HANDLED: ContextVar[tuple[str, str] | None] = ContextVar("soorma_handled_scope", default=None)


class handling:
    """Mark the code inside as a handler of an event of `tenant_id` / `user_id` (the runtime
    wraps every handler call in it): a `MemoryClient` for another tenant or user cannot be
    built inside (`TenantIsolationError`). Ids that cannot form a memory key are accepted here
    (a handler that uses no memory must still run); no client can be built for them."""

    __slots__ = ("_scope", "_token")

    def __init__(self, tenant_id: str, user_id: str) -> None:
        self._scope = (tenant_id, user_id)
        self._token: Token[tuple[str, str] | None] | None = None

    def __enter__(self) -> None:
        self._token = HANDLED.set(self._scope)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            HANDLED.reset(self._token)
            self._token = None
