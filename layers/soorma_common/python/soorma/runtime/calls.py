"""Calling a handler function: inside its event's tenant and user (`soorma.handled_scope`), and,
for an `async def` handler, to completion on the runtime's own event loop. asyncio is imported
only when the first async handler runs: not on the cold start of `def` handlers."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from soorma.handled_scope import DEFAULT_TENANT, DEFAULT_USER, handling

if TYPE_CHECKING:  # pragma: no cover
    import asyncio


class HandlerCalls:
    """Calls handlers for one runtime (one event loop, made when first needed, kept after)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, function: Callable[..., Any], envelope: Any, context: Any) -> Any:
        """`function(envelope, context)`'s result, awaited when it is awaitable."""
        # Inside, a memory client can only be the handled event's tenant and user.
        with handling(envelope.tenant_id or DEFAULT_TENANT, envelope.user_id or DEFAULT_USER):
            result = function(envelope, context)
            if result is not None and inspect.isawaitable(result):
                if self.loop is None:
                    import asyncio  # only for async handlers: not on the cold start of def ones

                    self.loop = asyncio.new_event_loop()
                result = self.loop.run_until_complete(_await(result))
        return result


async def _await(awaitable: Any) -> Any:
    return await awaitable
