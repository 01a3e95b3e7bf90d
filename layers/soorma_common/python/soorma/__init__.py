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

from soorma.agents import Agent, Planner, Tool, Worker
from soorma.bus import BusClient, EventId
from soorma.context import PlatformContext
from soorma.publishing import EventPublisher

__all__ = [
    "Agent",
    "BusClient",
    "EventId",
    "EventPublisher",
    "Planner",
    "PlatformContext",
    "Tool",
    "Worker",
]
