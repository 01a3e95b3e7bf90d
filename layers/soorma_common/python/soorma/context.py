"""`PlatformContext`: what a handler gets beside the event (bus, logger, registry, memory)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from soorma.agent_spec import AgentSpec
from soorma.bus import BusClient
from soorma_common.envelope import EventEnvelope


class PlatformContext:
    """The platform as one handler invocation sees it.

    `bus` publishes (buffered until the handler succeeds); `logger` logs with the event's
    correlation id; `registry`, `toolkit` and `memory` are built on first use, scoped to the
    handled event's tenant and user.
    """

    def __init__(
        self,
        agent: AgentSpec,
        event: EventEnvelope,
        bus: BusClient,
        lambda_context: Any = None,
        logger: Any = None,
    ) -> None:
        self.agent = agent
        self.event = event
        self.bus = bus
        self.lambda_context = lambda_context
        self._logger = logger

    @property
    def logger(self) -> Any:
        """The agent's Powertools `Logger`, with this event's correlation id, id, type, topic and
        tenant on every line (a standard `logging.Logger` outside the runtime)."""
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self.agent.name)
        return self._logger

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
