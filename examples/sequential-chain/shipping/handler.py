"""Step 3 of the chain: payment.completed -> order.shipped."""

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic

agent = Agent(name="shipping", events_produced=["order.shipped"])


@agent.on_event("payment.completed", topic=EventTopic.BUSINESS_FACTS)
def ship(event: EventEnvelope, context) -> None:
    context.bus.announce("order.shipped", {"order_id": event.data["order_id"], "carrier": "post"})


handler = agent.lambda_handler
