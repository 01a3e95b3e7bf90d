"""What the runtime and the platform context need of an agent: a leaf module, imports nothing
of `soorma` (only the contract), so that `agents`, `runtime`, `context` and `workflows` can all
type against it without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from soorma_common.envelope import EventEnvelope
from soorma_common.routing import WILDCARD
from soorma_common.subscription import Subscription

if TYPE_CHECKING:  # pragma: no cover
    from soorma_common.manifest import AgentManifest

#: A handler: `(event, context)`, `def` or `async def`.
Handler = Callable[..., Any]

#: How an agent's events are claimed (`Agent(..., claims=...)`; docs/reliability.md): claim,
#: run, complete (two DynamoDB writes per event; the handler runs once per event) ...
CLAIM_FIRST = "claim-first"
#: ... or run, then one conditional write of the outgoing events (one write per event; two
#: concurrent copies may both run the handler, only one's events reach the bus).
ONE_WRITE = "one-write"
CLAIM_MODES = (CLAIM_FIRST, ONE_WRITE)


@dataclass(frozen=True)
class HandlerSpec:
    """One registered handler: what it subscribes to and how its result is used."""

    subscription: Subscription
    function: Handler
    replies_with_result: bool = False
    response_event: str | None = None

    def matches(self, event_type: str) -> bool:
        """Whether this handler's event-type pattern covers `event_type`."""
        pattern = self.subscription.event_type
        if pattern == WILDCARD:
            return True
        if pattern.endswith(".*"):
            return event_type.startswith(pattern[:-1])
        return pattern == event_type

    def specificity(self) -> int:
        """Higher is more specific: exact beats the longest prefix, which beats `*`."""
        pattern = self.subscription.event_type
        if pattern == WILDCARD:
            return 0
        if pattern.endswith(".*"):
            return len(pattern)
        return 10_000


@dataclass(frozen=True)
class TransitionHandler:
    """A function run after a plan moves (optionally only from or to given states)."""

    function: Handler
    from_state: str | None = None
    to_state: str | None = None

    def matches(self, from_state: str, to_state: str) -> bool:
        """Whether this handler wants the move `from_state -> to_state`."""
        return (self.from_state in (None, from_state)) and (self.to_state in (None, to_state))


class AgentSpec(Protocol):
    """An agent as the runtime, the platform context and the workflows see it."""

    @property
    def name(self) -> str:
        """The agent's name (`check_agent_name`)."""
        ...

    @property
    def claims(self) -> str:
        """How the agent's events are claimed: `CLAIM_FIRST` or `ONE_WRITE`."""
        ...

    @property
    def source(self) -> str:
        """The EventBridge `Source` the agent publishes as (`soorma.<name>`)."""
        ...

    def find_handler(self, event: EventEnvelope) -> HandlerSpec | None:
        """The handler for `event`, or None."""
        ...

    def produced_event_names(self) -> frozenset[str] | None:
        """The event types the agent may publish, or None when it declared none."""
        ...

    def transitions_for(self, from_state: str, to_state: str) -> Iterable[TransitionHandler]:
        """The plan-transition handlers that want `from_state -> to_state` (none for agents
        that are not planners)."""
        ...

    def subscriptions(self) -> list[Subscription]:
        """What the agent's handlers subscribe to, each once."""
        ...

    def manifest(self) -> AgentManifest:
        """The agent's typed record."""
        ...
