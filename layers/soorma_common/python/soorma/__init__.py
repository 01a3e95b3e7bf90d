"""Soorma: write agents as decorated Python functions, run them on AWS Lambda.

```python
from soorma import Worker
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="order-processor", capabilities=["order-processing"])

@worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
async def handle_order(event: EventEnvelope, context):
    await context.bus.request("inventory.reserve", event.data, response_event="inventory.reserved")

handler = worker.lambda_handler
```
"""

from typing import TYPE_CHECKING, Any

from soorma.agents import Agent, Planner, Tool, Worker
from soorma.bus import BusClient, EventId
from soorma.publishing import EventPublisher

if TYPE_CHECKING:  # pragma: no cover
    from soorma.context import PlatformContext
    from soorma.memory.workflow_state import WorkflowState


def __getattr__(name: str) -> Any:
    # `PlatformContext` brings the memory and registry clients with it: an agent module that
    # imports `soorma` for its decorators does not pay for them at import (the cold start); the
    # runtime imports them when it handles the first record.
    if name == "PlatformContext":
        from soorma.context import PlatformContext

        return PlatformContext
    if name == "WorkflowState":  # as the Design Patterns document imports it
        from soorma.memory.workflow_state import WorkflowState

        return WorkflowState
    raise AttributeError(f"module 'soorma' has no attribute {name!r}")


__all__ = [
    "Agent",
    "BusClient",
    "EventId",
    "EventPublisher",
    "Planner",
    "PlatformContext",
    "Tool",
    "Worker",
    "WorkflowState",
]
