"""`Tool`: a stateless agent that answers requests (a calculator, a search, an API call)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from soorma.agent_spec import CLAIM_FIRST, Handler
from soorma.agents.base import Agent, EventDeclaration
from soorma_common.agent_kind import AgentKind
from soorma_common.topics import EventTopic


class Tool(Agent):
    """A tool. `on_invoke(event_type)` handlers return a dict that is published as the reply.

    The reply's type is the request's `response_event`, else the handler's `response_event`,
    else the tool's `default_response_event`; with none of them, no reply is sent (there is no
    implicit `<event>.completed`). A `DomainError` raised by the handler replies
    `{"success": false, "error": ...}`; a transient error is retried and replies nothing.
    """

    kind = AgentKind.TOOL

    def __init__(
        self,
        name: str,
        *,
        default_response_event: str | None = None,
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
        self.default_response_event = default_response_event

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

    def on_invoke(
        self, event_type: str, *, response_event: str | None = None
    ) -> Callable[[Handler], Handler]:
        """Answer requests of `event_type` on `action-requests` with the handler's returned dict."""
        return self._register(
            event_type,
            EventTopic.ACTION_REQUESTS,
            replies_with_result=True,
            response_event=response_event or self.default_response_event,
        )
