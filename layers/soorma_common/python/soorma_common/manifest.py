"""`AgentManifest`: the record an agent's decorators make, read by CDK, local cloud and registry.

It is produced by importing an agent module in a child process (`soorma manifest functions/<name>`)
and printed as JSON, so that readers never import agent code.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from soorma_common.agent_kind import AgentKind as AgentKind
from soorma_common.definitions import EventDefinition
from soorma_common.naming import check_agent_name, check_event_type
from soorma_common.subscription import Subscription as Subscription
from soorma_common.topics import EventTopic

MANIFEST_VERSION = 1
#: A Bedrock model id, inference profile id or ARN (no wildcard: IAM is granted on exactly it).
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,2047}$")


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
