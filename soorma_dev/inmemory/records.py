"""What the in-memory bus records: each record's handling, and workflows as causation trees."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.localcloud.models import Outcome


@dataclass(frozen=True)
class Handling:
    """One record delivered to one agent and what became of it."""

    agent: str
    topic: EventTopic
    message_id: str
    receive_count: int
    outcome: Outcome
    envelope: EventEnvelope | None
    reason: str | None = None
    time: str = ""


@dataclass
class TraceNode:
    """One event of a workflow, who handled it, and the events it caused."""

    envelope: EventEnvelope
    handled: list[Handling] = field(default_factory=list)
    children: list[TraceNode] = field(default_factory=list)

    def walk(self) -> list[TraceNode]:
        """This node and every descendant, depth first."""
        return list(walk([self]))


def walk(nodes: Iterable[TraceNode]) -> Iterator[TraceNode]:
    """Every node of a trace tree, depth first."""
    for node in nodes:
        yield node
        yield from walk(node.children)


def causation_tree(
    events: Iterable[EventEnvelope], handlings: Iterable[Handling]
) -> list[TraceNode]:
    """The events of one workflow as trees (roots first), each node with its handlings."""
    nodes = {e.id: TraceNode(e) for e in events}
    for handling in handlings:
        if handling.envelope is not None and handling.envelope.id in nodes:
            nodes[handling.envelope.id].handled.append(handling)
    roots: list[TraceNode] = []
    for node in nodes.values():
        parent = nodes.get(node.envelope.causation_id or "")
        (parent.children if parent is not None else roots).append(node)
    return roots
