"""The Soorma wire contract: topics, the event envelope, event definitions, manifests, errors.

Depends on pydantic only. The envelope, topics and errors load with the package; the models only
tooling and declarations need (`EventDefinition`, `AgentManifest`, `Subscription`, `AgentKind`)
load when first named, so that an agent's cold start does not build them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from soorma_common.envelope import EventEnvelope
from soorma_common.errors import (
    DomainError,
    PermanentError,
    SoormaError,
    TransientError,
)
from soorma_common.topics import EventTopic

if TYPE_CHECKING:  # pragma: no cover
    from soorma_common.agent_kind import AgentKind
    from soorma_common.definitions import EventDefinition
    from soorma_common.manifest import AgentManifest
    from soorma_common.subscription import Subscription

#: Names loaded on first use -> the module that defines them.
_LAZY = {
    "AgentKind": "soorma_common.agent_kind",
    "AgentManifest": "soorma_common.manifest",
    "EventDefinition": "soorma_common.definitions",
    "Subscription": "soorma_common.subscription",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'soorma_common' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
