"""`PlatformContext`: what a handler receives beside the event (bus, registry, memory, Lambda context)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from soorma_common.envelope import EventEnvelope

from soorma.bus import BusClient

if TYPE_CHECKING:  # pragma: no cover
    from soorma.agents.base import Agent


class PlatformContext:
    """The platform as one handler invocation sees it.

    `bus` publishes (buffered until the handler succeeds); `registry`, `toolkit` and `memory`
    are built on first use, scoped to the handled event's tenant and user.
    """

    def __init__(
        self,
        agent: Agent,
        event: EventEnvelope,
        bus: BusClient,
        lambda_context: Any = None,
    ) -> None:
        self.agent = agent
        self.event = event
        self.bus = bus
        self.lambda_context = lambda_context

    @property
    def tenant_id(self) -> str | None:
        """The tenant of the handled event (the only tenant this handler may touch)."""
        return self.event.tenant_id

    @property
    def user_id(self) -> str | None:
        """The user of the handled event."""
        return self.event.user_id

    @cached_property
    def registry(self) -> Any:
        """The registry client (events and agents, discovery, run-time registration)."""
        from soorma.registry import RegistryClient

        return RegistryClient.for_context(self)

    @cached_property
    def toolkit(self) -> Any:
        """`EventToolkit` over the registry: discovery and LLM-ready descriptions of events."""
        from soorma.registry import EventToolkit

        return EventToolkit.for_context(self)

    @cached_property
    def memory(self) -> Any:
        """Plans, sessions and working memory, scoped to the handled event's tenant and user."""
        from soorma.memory import MemoryClient

        return MemoryClient.for_context(self)
