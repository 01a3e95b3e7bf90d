"""What every harness returns: `Handling` (one record delivered to one agent and what became of
it), `TraceNode` (one event of a workflow, its handlings and the events it caused) and
`DeadLetter` (a message in one of an agent's DLQs, with its kind and the last error).

The in-memory bus, `MotoHarness` and the local cloud build these same records, so that a test's
assertions do not depend on which of the three runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from soorma.runtime import Outcome
from soorma_common.envelope import EventEnvelope
from soorma_common.errors import SoormaError

#: Why a message is in a DLQ: the runtime sent it there (a `PermanentError`), SQS moved it after
#: `maxReceiveCount` failed receives, or EventBridge could not deliver it to the queue.
DeadLetterKind = Literal["permanent-error", "redrive-after-max-receives", "rule-delivery-failure"]

__all__ = [
    "DeadLetter",
    "DeadLetterKind",
    "Handling",
    "Outcome",
    "TraceNode",
    "causation_tree",
    "detail_of",
    "envelope_of",
    "error_reason",
    "now_iso",
    "walk",
]


@dataclass(frozen=True)
class Handling:
    """One SQS record delivered to one agent, and what became of it.

    `event_id` and `event_type` are the envelope's (None when the body holds no envelope, e.g. a
    poison record); `receive_count` is SQS's `ApproximateReceiveCount` (1 on the first delivery);
    `reason` is `"<ErrorType>: <message>"` of the error when the record failed or was
    dead-lettered. A record moved to the DLQ after `maxReceiveCount` failed receives gets one more
    handling, `"dead-lettered"`, with the reason of its last failure. `time` is ISO 8601 UTC.
    """

    agent: str
    topic: str | None
    event_id: str | None
    event_type: str | None
    message_id: str
    receive_count: int
    outcome: Outcome
    reason: str | None = None
    time: str = ""


@dataclass
class TraceNode:
    """One event of a workflow, its handlings (in time order) and the events it caused."""

    envelope: EventEnvelope
    handlings: list[Handling] = field(default_factory=list)
    children: list[TraceNode] = field(default_factory=list)

    def walk(self) -> list[TraceNode]:
        """This node and every descendant, depth first, children in time order."""
        return list(walk([self]))

    @property
    def handled(self) -> list[Handling]:
        """Deprecated alias of `handlings` (kept until the CLI's renderers use the new name)."""
        return self.handlings


@dataclass(frozen=True)
class DeadLetter:
    """A message in one of an agent's DLQs.

    `reason` is the last error, `"<ErrorType>: <message>"`: the permanent error the runtime sent
    it with, the reason of its last failed handling (moved by SQS after `maxReceiveCount`
    receives), or EventBridge's error code and message (a rule delivery failure). `queue` is the
    source queue's name, `dlq_url` the DLQ's URL.
    """

    agent: str
    topic: str
    message_id: str
    kind: DeadLetterKind
    reason: str | None
    envelope: EventEnvelope | None
    body: str
    queue: str = ""
    dlq_url: str = ""
    receipt_handle: str = field(default="", repr=False, compare=False)


def walk(nodes: Iterable[TraceNode]) -> Iterator[TraceNode]:
    """Every node of a trace forest, depth first."""
    for node in nodes:
        yield node
        yield from walk(node.children)


def causation_tree(
    envelopes: Iterable[EventEnvelope], handlings: Iterable[Handling]
) -> list[TraceNode]:
    """The events of one workflow as causation trees (roots first, children in time order), each
    node with its handlings. An event whose cause is not among `envelopes` (the entry event, or
    one whose cause expired) is a root."""
    nodes = {e.id: TraceNode(e) for e in sorted(envelopes, key=lambda e: e.time)}
    for handling in handlings:
        node = nodes.get(handling.event_id or "")
        if node is not None:
            node.handlings.append(handling)
    roots: list[TraceNode] = []
    for node in nodes.values():
        parent = nodes.get(node.envelope.causation_id or "")
        (parent.children if parent is not None and parent is not node else roots).append(node)
    return roots


def error_reason(error_type: str | None, message: str | None) -> str | None:
    """`"<ErrorType>: <message>"`, the form of every handling's and dead letter's reason."""
    if error_type and message is not None:
        return f"{error_type}: {message}"
    return message or error_type


def detail_of(body: str) -> dict[str, Any]:
    """The EventBridge `detail` (the envelope on the wire) inside an SQS body, or {} if none."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError, RecursionError):  # not JSON, not an object, too deep
        return {}
    return detail if isinstance(detail, dict) else {}


def envelope_of(body: str) -> EventEnvelope | None:
    """The envelope inside an SQS body written by EventBridge, or None if there is no valid one."""
    detail = detail_of(body)
    if not detail:
        return None
    try:
        return EventEnvelope.from_wire(detail)
    except (ValueError, TypeError, RecursionError, SoormaError):
        return None


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (`...Z`)."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def last_failure_reasons(handlings: Iterable[Handling]) -> dict[str, str]:
    """The reason of the last failed handling of each message id."""
    return {h.message_id: h.reason for h in handlings if h.outcome == "failed" and h.reason}


def with_last_failure(
    letters: Iterable[DeadLetter], reasons: Mapping[str, str]
) -> list[DeadLetter]:
    """Dead letters moved after max receives, given the reason of their last failed handling."""
    from dataclasses import replace

    return [
        replace(d, reason=reasons[d.message_id])
        if d.kind == "redrive-after-max-receives" and d.message_id in reasons
        else d
        for d in letters
    ]
