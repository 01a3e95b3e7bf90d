"""Tells the customer their order was received (its own queue: it gets every order)."""

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic

agent = Agent(name="notifier", capabilities=["customer-notification"])


@agent.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def order_placed(event: EventEnvelope, context) -> None:
    context.bus.publish(
        EventTopic.NOTIFICATION_EVENTS,
        "customer.notified",
        {"order_id": event.data["order_id"], "channel": "email"},
    )


handler = agent.lambda_handler
