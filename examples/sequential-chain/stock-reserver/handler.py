"""Step 1 of the chain: order.placed -> inventory.reserved."""

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic

agent = Agent(name="stock-reserver", events_produced=["inventory.reserved"])


@agent.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def reserve(event: EventEnvelope, context) -> None:
    context.bus.announce("inventory.reserved", {"order_id": event.data["order_id"]})


handler = agent.lambda_handler
