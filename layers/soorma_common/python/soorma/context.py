"""`PlatformContext`: what a handler gets beside the event (bus, logger, registry, memory)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeAlias

from soorma.agent_spec import AgentSpec
from soorma.bus import BusClient
from soorma_common.envelope import EventEnvelope

if TYPE_CHECKING:  # pragma: no cover
    # Imported where first used: a handler that touches neither keeps them off the cold start.
    from soorma.memory.client import MemoryClient
    from soorma.registry.client import RegistryClient
    from soorma.registry.toolkit import EventToolkit

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
    the handled event's tenant and user. The runtime passes `bus_factory` instead of `bus`: the
    bus is then built when the handler first touches it.
    """

    def __init__(
        self,
        agent: AgentSpec,
        event: EventEnvelope,
        bus: BusClient | None = None,
        lambda_context: LambdaContext | None = None,
        logger: HandlerLogger | None = None,
        *,
        bus_factory: Callable[[], BusClient] | None = None,
    ) -> None:
        if bus is None and bus_factory is None:
            raise TypeError("PlatformContext needs a bus or a bus_factory")
        self.agent: AgentSpec = agent
        self.event: EventEnvelope = event
        self._bus = bus
        self._bus_factory = bus_factory
        self.lambda_context: LambdaContext | None = lambda_context
        self._logger = logger

    @property
    def bus(self) -> BusClient:
        """The buffered publisher of this invocation (built on first use)."""
        bus = self._bus
        if bus is None:
            assert self._bus_factory is not None
            bus = self._bus = self._bus_factory()
        return bus

    @property
    def built_bus(self) -> BusClient | None:
        """The bus if it was built (the handler touched it), else None: nothing was published."""
        return self._bus

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
        from soorma.registry.client import RegistryClient

        return RegistryClient.from_env()

    @cached_property
    def toolkit(self) -> EventToolkit:
        """`EventToolkit` over the registry: discovery and LLM-ready descriptions of events."""
        from soorma.registry.toolkit import EventToolkit

        return EventToolkit(self.registry)

    @cached_property
    def memory(self) -> MemoryClient:
        """Plans, sessions and working memory of the handled event's tenant and user (the
        defaults when the event carries none)."""
        from soorma.handled_scope import DEFAULT_TENANT, DEFAULT_USER
        from soorma.memory.client import MemoryClient

        return MemoryClient(self.tenant_id or DEFAULT_TENANT, self.user_id or DEFAULT_USER)
