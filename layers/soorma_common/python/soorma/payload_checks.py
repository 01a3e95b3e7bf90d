"""Whether an agent's runtime checks payloads, decided without importing the registry package.

Most agents declare no schema and run without a registry table: for them the runtime's cold start
never imports `soorma.registry` (its client, sync, toolkit and schema tooling). The others get
`soorma.registry.validation.validator_for_agent`'s check, imported on that first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soorma.config import settings

if TYPE_CHECKING:  # pragma: no cover
    from soorma.registry.validation import PayloadValidator


def has_declared_schema(agent: Any) -> bool:
    """Whether any event the agent consumes or produces is declared with a payload schema."""
    events = [*agent.events_consumed, *(agent.events_produced or ())]
    if all(isinstance(d, str) for d in events):
        return False  # (an `EventDefinition` means its module is loaded already)
    from soorma_common.definitions import EventDefinition

    return any(isinstance(d, EventDefinition) and d.payload_schema is not None for d in events)


def validator_for_agent(agent: Any) -> PayloadValidator | None:
    """The payload check of an agent's runtime (publish and consume), or None when nothing can
    ever be checked (no declared schema, no registry table, lenient mode): then the registry
    package is not imported."""
    conf = settings()
    if not conf.registry_table and not conf.strict_schemas and not has_declared_schema(agent):
        return None
    from soorma.registry.validation import validator_for_agent as registry_validator

    return registry_validator(agent)
