"""The Soorma wire contract: topics, the event envelope, event definitions, manifests, errors.

Depends on pydantic only.
"""

from soorma_common.definitions import EventDefinition
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import (
    DomainError,
    PermanentError,
    SoormaError,
    TransientError,
)
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.topics import EventTopic

__all__ = [
    "AgentKind",
    "AgentManifest",
    "DomainError",
    "EventDefinition",
    "EventEnvelope",
    "EventTopic",
    "PermanentError",
    "SoormaError",
    "Subscription",
    "TransientError",
]
