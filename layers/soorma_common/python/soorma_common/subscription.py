"""`Subscription`: one `(topic, event_type)` an agent handles, made by its decorators.

Kept apart from `soorma_common.manifest` so that an agent's module and the runtime's cold start
build the subscriptions without the manifest's model (which only tooling reads).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from soorma_common.naming import check_event_pattern
from soorma_common.topics import EventTopic


class Subscription(BaseModel):
    """One `(topic, event_type)` an agent handles.

    `event_type` is an exact name, `"*"` (the whole topic) or a prefix such as `"research.*"`,
    checked by `naming.check_event_pattern` (so `on_event` refuses white space, `*` elsewhere,
    and names over EventBridge's 128 characters).

    - `replies=True`: replies addressed to this agent (`replyto` = its name) of this type
      pattern (`"*"`: every type); replies of other types are not delivered.
    - otherwise the subscription receives events that are not replies (no `replyto`), unless
      `include_replies=True`: an observer that wants every reply too, like the platform's event
      log (replies addressed to the agent itself still go to its reply subscriptions, if any).
    - a wildcard or prefix subscription (`"*"`, `"research.*"`) does not receive the events the
      agent published itself (no self-triggering loop), unless `include_own_events=True`; an
      exact type always does.

    `soorma_common.routing.rules_for` turns these into EventBridge rules.
    """

    model_config = ConfigDict(frozen=True)

    topic: EventTopic
    event_type: str = Field(min_length=1)
    replies: bool = False
    include_replies: bool = False
    include_own_events: bool = False

    @field_validator("topic", mode="before")
    @classmethod
    def _known_topic(cls, value: Any) -> EventTopic:
        return EventTopic.parse(value)

    @field_validator("event_type")
    @classmethod
    def _valid_pattern(cls, value: str) -> str:
        return check_event_pattern(value)

    @model_validator(mode="after")
    def _flags_fit(self) -> Subscription:
        if self.replies and self.topic is EventTopic.ACTION_REQUESTS:
            raise ValueError(
                f"reply subscription to {self.event_type!r} on action-requests: that topic "
                "carries requests, never replies; receive replies on action-results (the "
                "default response_topic) or the requests' response_topic"
            )
        if self.replies and (self.include_replies or self.include_own_events):
            raise ValueError(
                f"subscription to {self.event_type!r} on {self.topic.value}: replies=True already "
                "receives every matching reply addressed to the agent, from any source; "
                "include_replies and include_own_events apply to other subscriptions only"
            )
        return self
