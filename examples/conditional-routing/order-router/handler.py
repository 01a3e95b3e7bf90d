"""Routes each order by its total: over 1000 to the priority desk, else to the standard desk."""

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic

PRIORITY_THRESHOLD = 1000

agent = Agent(name="order-router", events_produced=["order.priority.route", "order.standard.route"])


@agent.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def route(event: EventEnvelope, context) -> None:
    priority = event.data.get("total", 0) > PRIORITY_THRESHOLD
    route_event = "order.priority.route" if priority else "order.standard.route"
    context.bus.publish(EventTopic.ACTION_REQUESTS, route_event, event.data)


handler = agent.lambda_handler
