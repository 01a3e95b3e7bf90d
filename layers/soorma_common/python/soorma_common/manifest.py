"""`AgentManifest`: the record an agent's decorators make, read by CDK, local cloud and registry.

It is produced by importing an agent module in a child process (`soorma manifest functions/<name>`)
and printed as JSON, so that readers never import agent code.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from soorma_common.definitions import EventDefinition
from soorma_common.naming import check_agent_name, check_event_pattern, check_event_type
from soorma_common.topics import EventTopic

MANIFEST_VERSION = 1
#: A Bedrock model id, inference profile id or ARN (no wildcard: IAM is granted on exactly it).
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,2047}$")


class AgentKind(StrEnum):
    """What sort of agent a manifest describes."""

    AGENT = "agent"
    WORKER = "worker"
    TOOL = "tool"
    PLANNER = "planner"
    PLATFORM = "platform"


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


class AgentManifest(BaseModel):
    """What an agent is, what it listens to and what it produces."""

    model_config = ConfigDict(frozen=True)

    manifest_version: int = MANIFEST_VERSION
    name: str
    kind: AgentKind
    description: str = ""
    capabilities: list[str] = Field(default_factory=list)
    subscriptions: list[Subscription] = Field(default_factory=list)
    events_consumed: list[EventDefinition] = Field(default_factory=list)
    events_produced: list[EventDefinition] = Field(default_factory=list)
    produced_event_names: list[str] | None = Field(
        default=None,
        description="event types the agent may publish; None when it did not declare any",
    )
    handler: str = Field(default="handler.handler", description="the Lambda handler path")
    llm_models: list[str] = Field(
        default_factory=list,
        description="Bedrock model ids, inference profile ids or ARNs the agent's function may "
        "call (IAM is granted on these only); the first is its SOORMA_LLM_MODEL_ID",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_agent_name(value)

    @field_validator("llm_models")
    @classmethod
    def _valid_models(cls, value: list[str]) -> list[str]:
        for model in value:
            if not _MODEL_ID.match(model):
                raise ValueError(
                    f"{model[:80]!r} is not a Bedrock model id, inference profile id or ARN "
                    "(letters, digits and . _ : / -, no wildcard: IAM is granted on exactly it)"
                )
        if len(set(value)) != len(value):
            raise ValueError(f"llm_models lists a model twice: {value}")
        return value

    @field_validator("produced_event_names")
    @classmethod
    def _valid_event_names(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [check_event_type(name) for name in value]

    def topics(self) -> list[EventTopic]:
        """The topics the agent subscribes to, each once, in a stable order."""
        return sorted(
            {s.topic for s in self.subscriptions}, key=lambda t: list(EventTopic).index(t)
        )
