"""`PlatformContext`: what a handler gets beside the event (bus, logger, registry, memory)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from types import TracebackType
from typing import Protocol, TypeAlias

from soorma.agent_spec import AgentSpec
from soorma.bus import BusClient
from soorma.memory.client import MemoryClient
from soorma.memory.scope import DEFAULT_TENANT, DEFAULT_USER
from soorma.registry.client import RegistryClient
from soorma.registry.toolkit import EventToolkit
from soorma_common.envelope import EventEnvelope

#: What `exc_info=` accepts, as in `logging`.
ExcInfo: TypeAlias = (
    bool
    | BaseException
    | tuple[type[BaseException], BaseException, TracebackType | None]
    | tuple[None, None, None]
    | None
)


class HandlerLogger(Protocol):
    """The logger a handler gets: the runtime's Powertools `Logger`, or a `logging.Logger`.

    Both have these methods (Powertools' `Logger` also takes structured keys as keywords).
    """

    def debug(
        self,
        msg: object,
        *args: object,
        exc_info: ExcInfo = ...,
        stack_info: bool = ...,
        stacklevel: int = ...,
        extra: Mapping[str, object] | None = ...,
    ) -> None:
        """Log at DEBUG."""

    def info(
        self,
        msg: object,
        *args: object,
        exc_info: ExcInfo = ...,
        stack_info: bool = ...,
        stacklevel: int = ...,
        extra: Mapping[str, object] | None = ...,
    ) -> None:
        """Log at INFO."""

    def warning(
        self,
        msg: object,
        *args: object,
        exc_info: ExcInfo = ...,
        stack_info: bool = ...,
        stacklevel: int = ...,
        extra: Mapping[str, object] | None = ...,
    ) -> None:
        """Log at WARNING."""

    def error(
        self,
        msg: object,
        *args: object,
        exc_info: ExcInfo = ...,
        stack_info: bool = ...,
        stacklevel: int = ...,
        extra: Mapping[str, object] | None = ...,
    ) -> None:
        """Log at ERROR."""

    def exception(
        self,
        msg: object,
        *args: object,
        exc_info: ExcInfo = ...,
        stack_info: bool = ...,
        stacklevel: int = ...,
        extra: Mapping[str, object] | None = ...,
    ) -> None:
        """Log at ERROR with the exception being handled."""


class LambdaContext(Protocol):
    """The Lambda context object of the invocation (what AWS passes to the handler)."""

    @property
    def function_name(self) -> str:
        """The function's name."""
        ...

    @property
    def aws_request_id(self) -> str:
        """The invocation's request id."""
        ...

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out."""
        ...


class PlatformContext:
    """The platform as one handler invocation sees it.

    `bus` publishes (buffered until the handler succeeds); `logger` logs with the event's
    correlation id; `registry`, `toolkit` and `memory` are built on first use, `memory` scoped to
    the handled event's tenant and user.
    """

    def __init__(
        self,
        agent: AgentSpec,
        event: EventEnvelope,
        bus: BusClient,
        lambda_context: LambdaContext | None = None,
        logger: HandlerLogger | None = None,
    ) -> None:
        self.agent: AgentSpec = agent
        self.event: EventEnvelope = event
        self.bus: BusClient = bus
        self.lambda_context: LambdaContext | None = lambda_context
        self._logger = logger

    @property
    def logger(self) -> HandlerLogger:
        """The agent's Powertools `Logger`, with this event's correlation id, id, type, topic and
        tenant on every line (a standard `logging.Logger` outside the runtime)."""
        if self._logger is None:
            import logging  # not at module level: the runtime always passes its own logger

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
    def registry(self) -> RegistryClient:
        """The registry client (events and agents, discovery, run-time registration): the
        process-wide client of `SOORMA_REGISTRY_TABLE` (the registry is not tenant-scoped)."""
        return RegistryClient.from_env()

    @cached_property
    def toolkit(self) -> EventToolkit:
        """`EventToolkit` over the registry: discovery and LLM-ready descriptions of events."""
        return EventToolkit(self.registry)

    @cached_property
    def memory(self) -> MemoryClient:
        """Plans, sessions and working memory of the handled event's tenant and user (the
        defaults when the event carries none)."""
        return MemoryClient(self.tenant_id or DEFAULT_TENANT, self.user_id or DEFAULT_USER)
