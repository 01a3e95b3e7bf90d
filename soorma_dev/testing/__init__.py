"""One API for the three test harnesses: the records they return (`Handling`, `TraceNode`,
`DeadLetter`) and the verbs they offer (`AgentHarness`).

```python
from soorma_dev.testing import AgentHarness

def run_order(harness: AgentHarness) -> None:
    sent = harness.send("order.placed", {"order_id": "o-1"}, topic="business-facts")
    harness.run_until_idle(timeout=60)
    assert [h.outcome for h in harness.handlings("inventory")] == ["handled"]
    assert harness.dead_letters() == []
    [root] = harness.trace(sent.correlation_id)
```
"""

from soorma_dev.testing.protocol import AgentHarness
from soorma_dev.testing.records import (
    DeadLetter,
    DeadLetterKind,
    Handling,
    Outcome,
    TraceNode,
    causation_tree,
    walk,
)

__all__ = [
    "AgentHarness",
    "DeadLetter",
    "DeadLetterKind",
    "Handling",
    "Outcome",
    "TraceNode",
    "causation_tree",
    "walk",
]
