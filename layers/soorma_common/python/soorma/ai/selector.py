"""`EventSelector`: one decision of a language model — which registered event fits this input,
with a payload valid against its schema (the "event selector" routing pattern).

```python
@router.on_event("ticket.created", topic=EventTopic.BUSINESS_FACTS)
def route(event, context):
    selector = EventSelector(context, topic="action-requests", model=model,
                             instructions="Route support tickets.")
    selection = selector.select(event.data)      # checked: registered event, valid payload
    selector.publish(selection)                   # on the event's own topic
```

The model must call exactly one tool, one per offered event. Its choice is checked before
anything is published; a rejected choice is fed back for at most `max_repairs` repairs, then
`DecisionFailedError` (permanent) names the last problem. The decision's token usage goes to
`billing-events` when it is made. `max_tokens` below 1 or `max_repairs` below 0 is a
`ValueError` when the selector is built.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from soorma.ai.billing import publish_usage
from soorma.ai.decisions import (
    DEFAULT_MAX_REPAIRS,
    Deliberation,
    EventChoice,
    check_event_call,
    deliberate,
    one_call,
)
from soorma.ai.event_toolkit import DiscoveredEvents, EventToolkit
from soorma.ai.plan_limits import check_limits
from soorma.ai.providers import (
    InferenceOptions,
    LanguageModel,
    ModelRequest,
    ModelResponse,
    UserTurn,
    configured_model,
)
from soorma.bus import EventId
from soorma.context import PlatformContext
from soorma_common.errors import PermanentError
from soorma_common.topics import EventTopic

SELECTOR_SYSTEM = (
    "You route one input to exactly one of the available events. Each tool publishes one "
    "registered event; call the single tool that fits the input best, with a payload that "
    "follows its input schema. Do not answer in text."
)


class NoEventsToSelectError(PermanentError):
    """No registered event could be offered to the model (none on the topic, or none consumed)."""


@dataclass(frozen=True)
class Selection:
    """The selected event, its checked payload, and the decision that chose it."""

    choice: EventChoice
    decision: Deliberation[EventChoice]

    @property
    def event_name(self) -> str:
        """The selected event's name."""
        return self.choice.event.name

    @property
    def payload(self) -> Any:
        """The payload, valid against the event's schema (defaults filled in)."""
        return self.choice.payload

    @property
    def topic(self) -> EventTopic:
        """The topic the event is registered on."""
        return self.choice.event.topic


class EventSelector:
    """Chooses one registered event for an input (see the module docstring).

    `topic`, `capabilities` and `pattern` narrow the offered events (`EventToolkit.
    discover_actionable_events`); `model` defaults to `configured_model()` (Bedrock with the
    model of `SOORMA_LLM_MODEL_ID`, unless `SOORMA_LLM_PROVIDER` names another provider).
    """

    def __init__(
        self,
        context: PlatformContext,
        *,
        topic: EventTopic | str = EventTopic.ACTION_REQUESTS,
        model: LanguageModel | None = None,
        instructions: str = "",
        capabilities: Iterable[str] | None = None,
        pattern: str | None = None,
        max_repairs: int = DEFAULT_MAX_REPAIRS,
        max_tokens: int = 1024,
        toolkit: EventToolkit | None = None,
    ) -> None:
        check_limits(
            at_least_one={"max_tokens": max_tokens}, at_least_zero={"max_repairs": max_repairs}
        )
        self.context = context
        self.topic = EventTopic.parse(topic)
        self.model: LanguageModel = model or configured_model()
        self.instructions = instructions
        self.capabilities = None if capabilities is None else list(capabilities)
        self.pattern = pattern
        self.max_repairs = max_repairs
        self.max_tokens = max_tokens
        self.toolkit = toolkit or EventToolkit(context.registry)

    def candidates(self) -> DiscoveredEvents:
        """The events offered to the model."""
        return self.toolkit.discover_actionable_events(
            self.topic, capabilities=self.capabilities, pattern=self.pattern
        )

    def select(self, data: Any) -> Selection:
        """Ask the model which event fits `data` (text, or JSON-able data shown as JSON)."""
        events = self.candidates()
        if not events:
            raise NoEventsToSelectError(
                f"no registered event on {self.topic.value} is consumed by an agent"
                + (f" with capabilities {self.capabilities}" if self.capabilities else "")
                + "; register the events (and the agents consuming them) first"
            )
        text = data if isinstance(data, str) else json.dumps(data, sort_keys=True, default=str)
        request = ModelRequest(
            system="\n\n".join(p for p in (SELECTOR_SYSTEM, self.instructions) if p),
            turns=(UserTurn(text=text or "(empty input)"),),
            tools=self.toolkit.tool_specs(events),
            options=InferenceOptions(max_tokens=self.max_tokens, tool_choice="any"),
        )

        def judge(response: ModelResponse) -> EventChoice:
            return check_event_call(self.toolkit, events, one_call(response))

        decision = deliberate(self.model, request, judge, max_repairs=self.max_repairs)
        publish_usage(
            self.context,
            model_id=decision.model_id,
            usage=decision.usage,
            model_calls=len(decision.responses),
            plan_id=self.context.event.plan_id,
        )
        return Selection(decision.value, decision)

    def publish(self, selection: Selection, **attributes: Any) -> EventId:
        """Publish the selected event with its payload on its registered topic."""
        return self.context.bus.publish(
            selection.topic, selection.event_name, selection.payload, **attributes
        )
