"""Step 2 of the chain: inventory.reserved -> payment.completed."""

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic

agent = Agent(name="payments", events_produced=["payment.completed"])


@agent.on_event("inventory.reserved", topic=EventTopic.BUSINESS_FACTS)
def charge(event: EventEnvelope, context) -> None:
    order_id = event.data["order_id"]
    context.bus.announce(
        "payment.completed", {"order_id": order_id, "payment_id": f"pay-{order_id}"}
    )


handler = agent.lambda_handler
