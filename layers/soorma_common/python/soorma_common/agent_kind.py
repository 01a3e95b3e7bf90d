"""`AgentKind`: what sort of agent a manifest describes (a plain enum, cheap to import)."""

from __future__ import annotations

from enum import StrEnum


class AgentKind(StrEnum):
    """What sort of agent a manifest describes."""

    AGENT = "agent"
    WORKER = "worker"
    TOOL = "tool"
    PLANNER = "planner"
    PLATFORM = "platform"
