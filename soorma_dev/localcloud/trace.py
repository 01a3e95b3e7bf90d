"""Reading a workflow back: the event log's items (by correlation id) plus the activity lines,
as a causation tree.

The key design is the event log's (`functions/event_log/handler.py`, docs/local-cloud.md):
partition `CORR#<correlation_id>`, sort key `EVENT#<time>#<event_id>`, envelope JSON in
`envelope`. The reader is the layer's (`soorma.event_log`), shared with the front door.
"""

from __future__ import annotations

from collections.abc import Iterable

from soorma.event_log import PARTITION_PREFIX, SORT_PREFIX, logged_envelopes
from soorma_common.envelope import EventEnvelope
from soorma_dev.localcloud.models import ActivityLine
from soorma_dev.testing.records import Handling, TraceNode, causation_tree

__all__ = [
    "PARTITION_PREFIX",
    "SORT_PREFIX",
    "build_tree",
    "handlings_of",
    "logged_envelopes",
]


def handlings_of(activity: Iterable[ActivityLine]) -> list[Handling]:
    """The handlings the activity lines record, in order.

    The receive count of a line is the number of receives of its message so far: a line the
    pump wrote (it has a `received` time) is one receive; a dead letter noticed by the watcher
    (moved by SQS after its last failed receive) is not.
    """
    receives: dict[str, int] = {}
    handlings = []
    for line in activity:
        key = line.message_id or ""
        if line.received is not None:
            receives[key] = receives.get(key, 0) + 1
        handlings.append(
            Handling(
                agent=line.agent,
                topic=line.topic,
                event_id=line.event_id,
                event_type=line.event_type,
                message_id=key,
                receive_count=max(1, receives.get(key, 0)),
                outcome=line.outcome,
                reason=line.reason,
                time=line.time,
            )
        )
    return handlings


def build_tree(envelopes: list[EventEnvelope], activity: list[ActivityLine]) -> list[TraceNode]:
    """The roots of the causation tree, each node with its handlings; children in time order.

    An event whose cause is not in the list (the entry event, or one whose cause expired) is a
    root.
    """
    return causation_tree(envelopes, handlings_of(activity))
