"""`Worker`: takes tasks on `action-requests` and gathers the results of its own requests."""

from __future__ import annotations

from collections.abc import Callable

from soorma.agent_spec import Handler
from soorma.agents.base import Agent
from soorma_common.agent_kind import AgentKind
from soorma_common.topics import EventTopic


class Worker(Agent):
    """A worker. `on_event` defaults its topic to `action-requests`.

    - `on_task(event_type)`: the handler's returned dict is the reply, published to the request's
      `response_event` (addressed to its `reply_to`); returning None sends no reply.
    - `on_result(event_type="*")`: replies addressed to this worker (`reply_to`), whatever their
      type, e.g. the results of requests it made with `context.bus.request`.
    """

    kind = AgentKind.WORKER

    def on_event(
        self,
        event_type: str,
        *,
        topic: EventTopic | str = EventTopic.ACTION_REQUESTS,
        include_replies: bool = False,
        include_own_events: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Handle `event_type` on `topic` (default `action-requests`); see `Agent.on_event`."""
        return super().on_event(
            event_type,
            topic=topic,
            include_replies=include_replies,
            include_own_events=include_own_events,
        )

    def on_task(
        self, event_type: str, *, topic: EventTopic | str = EventTopic.ACTION_REQUESTS
    ) -> Callable[[Handler], Handler]:
        """Handle a task; the returned dict is published as the reply (`response_event`)."""
        return self._register(event_type, topic, replies_with_result=True)

    def on_result(self, event_type: str = "*") -> Callable[[Handler], Handler]:
        """Handle replies addressed to this worker on `action-results` (default: every type)."""
        return self._register(event_type, EventTopic.ACTION_RESULTS, replies=True)
