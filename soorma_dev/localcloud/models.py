"""What the local cloud reports: activity lines (its own), and the records every harness returns
(`Handling`, `TraceNode`, `DeadLetter`, defined once in `soorma_dev.testing.records`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from soorma_dev.testing.records import DeadLetter, DeadLetterKind, Handling, Outcome, TraceNode

__all__ = ["ActivityLine", "DeadLetter", "DeadLetterKind", "Handling", "Outcome", "TraceNode"]


@dataclass(frozen=True)
class ActivityLine:
    """One handling outcome of one event by one agent, in the order the local cloud saw it.

    `time` is ISO 8601 UTC. `reason` says why a record failed or was dead-lettered;
    `message_id` is the SQS message id; `causation_id` links the event to its cause; `received`
    is when the pump received the batch (ISO 8601 UTC).
    """

    time: str
    topic: str | None
    event_type: str | None
    agent: str
    outcome: Outcome
    event_id: str | None
    correlation_id: str | None
    reason: str | None = None
    message_id: str | None = None
    causation_id: str | None = None
    received: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (one line of the activity file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> ActivityLine:
        """Read a line written by `to_dict` (unknown keys ignored)."""
        known: dict[str, Any] = {k: record.get(k) for k in cls.__dataclass_fields__}
        return cls(**known)
