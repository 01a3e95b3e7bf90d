"""`Planner`: an agent that turns goals into plans of requests to other agents."""

from __future__ import annotations

from collections.abc import Callable

from soorma_common.manifest import AgentKind
from soorma_common.topics import EventTopic

from soorma.agents.base import Handler
from soorma.agents.worker import Worker


class Planner(Worker):
    """A planner: `on_goal(event_type)` receives goals on `action-requests`; it inherits
    `on_result` (replies to its requests) and `on_task` from `Worker`."""

    kind = AgentKind.PLANNER

    def on_goal(
        self, event_type: str, *, topic: EventTopic | str = EventTopic.ACTION_REQUESTS
    ) -> Callable[[Handler], Handler]:
        """Handle a goal; plan with `context.memory` and delegate with `context.bus.request`."""
        return self._register(event_type, topic)
