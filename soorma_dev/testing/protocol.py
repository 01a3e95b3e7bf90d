"""`AgentHarness`: the verbs every test harness offers, with the same return types.

`InMemoryBus` (`soorma_bus`), `MotoHarness` (`soorma_moto`) and `LocalCloud` (`soorma_local_cloud`)
all satisfy it, so a test written against it moves between them by changing its fixture only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.testing.records import DeadLetter, Handling, TraceNode


@runtime_checkable
class AgentHarness(Protocol):
    """Agents on a bus: put events on it, let them run, read what happened."""

    def send(
        self, event_type: str, data: Any = None, *, topic: EventTopic | str, **attributes: Any
    ) -> EventEnvelope:
        """Put one event on the bus from outside any agent; return its envelope.

        `attributes` are envelope attributes by Python name (`tenant_id`, `user_id`,
        `correlation_id` to continue a workflow, `source`, ...)."""
        ...

    def run_until_idle(self, timeout: float = ...) -> int:
        """Deliver until every agent queue is empty; return how many handlings were made since
        the previous call (or since the harness started; a harness whose workers run on their
        own counts what they did before the call). Raise `TimeoutError` when the queues are
        still busy after `timeout` seconds."""
        ...

    def handlings(self, agent: str | None = None) -> list[Handling]:
        """Every record delivered (to one agent, or to any) and its outcome, in order."""
        ...

    def dead_letters(self, agent: str | None = None) -> list[DeadLetter]:
        """The messages now in the DLQs (of one agent, or of all)."""
        ...

    def redrive(self, agent: str | None = None, message_ids: Iterable[str] | None = None) -> int:
        """Send dead letters back to their source queues (as new messages); return how many."""
        ...

    def trace(self, correlation_id: str) -> list[TraceNode]:
        """The causation tree of one workflow: its root events, each with its handlings and
        the events it caused."""
        ...
