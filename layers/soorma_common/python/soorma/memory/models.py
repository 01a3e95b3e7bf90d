"""What the memory table holds, as typed records: `Plan`, `Session`, `Interaction`, `PlanStatus`."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlanStatus(StrEnum):
    """A plan's lifecycle status."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PAUSED = "paused"


#: The status changes a plan may make. Setting the status a plan already has is a no-op (so a
#: retried handler may repeat it); every other change is an `IllegalTransitionError`.
ALLOWED_STATUS_CHANGES: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.RUNNING: frozenset({PlanStatus.COMPLETED, PlanStatus.FAILED, PlanStatus.PAUSED}),
    PlanStatus.PAUSED: frozenset({PlanStatus.RUNNING}),
    PlanStatus.COMPLETED: frozenset(),
    PlanStatus.FAILED: frozenset(),
}


def predecessors(target: PlanStatus) -> list[PlanStatus]:
    """The statuses from which a plan may move to `target` (including `target` itself)."""
    return [s for s, allowed in ALLOWED_STATUS_CHANGES.items() if target in allowed or s == target]


class _Record(BaseModel):
    # defer_build: the validators are built on first use, not when the SDK is imported (the
    # context imports the memory client on every cold start; most agents never use it).
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class Plan(_Record):
    """One goal's execution: unique per (tenant_id, plan_id)."""

    plan_id: str
    tenant_id: str
    user_id: str
    session_id: str | None = None
    goal_event: str
    goal_data: Any = None
    status: PlanStatus = PlanStatus.RUNNING
    parent_plan_id: str | None = None
    state: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    created_at: str
    updated_at: str
    version: int = 1


class Session(_Record):
    """A group of related plans: unique per (tenant_id, session_id); holds no data of its own."""

    session_id: str
    tenant_id: str
    user_id: str
    name: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    last_interaction: str
    created_at: str


class Interaction(_Record):
    """One entry of episodic memory: what a user and an agent said or did."""

    interaction_id: str
    tenant_id: str
    user_id: str
    agent_id: str
    role: str
    content: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: str


class WorkingMemoryEntry(_Record):
    """One working-memory value with its version (for compare-and-set)."""

    plan_id: str
    key: str
    value: Any = None
    version: int
    updated_at: str
