"""`Planner`: an agent that turns goals into plans of requests to other agents."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from soorma.agent_spec import CLAIM_FIRST, Handler, TransitionHandler
from soorma.agents.base import EventDeclaration
from soorma.agents.worker import Worker
from soorma_common.agent_kind import AgentKind
from soorma_common.topics import EventTopic


class Planner(Worker):
    """A planner: `on_goal(event_type)` receives goals on `action-requests`; it inherits
    `on_result` (replies to its requests) and `on_task` from `Worker`; `on_transition` runs
    code when a `PlanContext` of this planner moves between states."""

    kind = AgentKind.PLANNER

    def __init__(
        self,
        name: str,
        *,
        description: str = "",
        capabilities: Iterable[str] = (),
        events_consumed: Iterable[EventDeclaration] = (),
        events_produced: Iterable[EventDeclaration] | None = None,
        claims: str = CLAIM_FIRST,
    ) -> None:
        super().__init__(
            name,
            description=description,
            capabilities=capabilities,
            events_consumed=events_consumed,
            events_produced=events_produced,
            claims=claims,
        )
        self.transition_handlers: list[TransitionHandler] = []

    def on_goal(
        self, event_type: str, *, topic: EventTopic | str = EventTopic.ACTION_REQUESTS
    ) -> Callable[[Handler], Handler]:
        """Handle a goal; plan with `context.memory` and delegate with `context.bus.request`."""
        return self._register(event_type, topic)

    def on_transition(
        self, *, from_state: str | None = None, to_state: str | None = None
    ) -> Callable[[Handler], Handler]:
        """Run `function(transition, plan, context)` after a plan moves (`from_state` /
        `to_state` narrow it). It runs inside the handler that caused the move: what it
        publishes is sent with that handler's events; it may set `plan.result` (the reply)."""

        def decorator(function: Handler) -> Handler:
            self.transition_handlers.append(TransitionHandler(function, from_state, to_state))
            return function

        return decorator

    def transitions_for(self, from_state: str, to_state: str) -> Iterable[TransitionHandler]:
        """The transition handlers that want `from_state -> to_state`, in declaration order."""
        return [h for h in self.transition_handlers if h.matches(from_state, to_state)]
