"""What the local cloud reports: activity lines, trace nodes, handlings and dead letters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from soorma_common.envelope import EventEnvelope

Outcome = Literal["handled", "failed", "dead-lettered"]
DeadLetterKind = Literal["permanent-error", "redrive-after-max-receives", "rule-delivery-failure"]


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


@dataclass(frozen=True)
class Handling:
    """What one agent did with one event in a trace."""

    agent: str
    outcome: Outcome
    time: str
    reason: str | None = None


@dataclass
class TraceNode:
    """One event of a workflow, who handled it, and the events it caused."""

    envelope: EventEnvelope
    handled: list[Handling] = field(default_factory=list)
    children: list[TraceNode] = field(default_factory=list)

    def walk(self) -> list[TraceNode]:
        """This node and every descendant, depth first, children in time order."""
        nodes = [self]
        for child in self.children:
            nodes.extend(child.walk())
        return nodes


@dataclass(frozen=True)
class DeadLetter:
    """A message in one of an agent's DLQs, with the kind of dead letter it is."""

    agent: str
    topic: str
    queue: str
    dlq_url: str
    message_id: str
    kind: DeadLetterKind
    reason: str | None
    body: str
    envelope: EventEnvelope | None
    receipt_handle: str = field(default="", repr=False)
