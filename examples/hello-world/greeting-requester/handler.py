"""A Worker that asks the greeter for a greeting and announces it when the reply arrives."""

from soorma import Worker
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="greeting-requester", capabilities=["welcoming"])


@worker.on_event("visitor.arrived", topic=EventTopic.BUSINESS_FACTS)
def visitor_arrived(event: EventEnvelope, context) -> None:
    context.bus.request(
        "greeting.compose", {"name": event.data["name"]}, response_event="greeting.composed"
    )


@worker.on_result("greeting.composed")
def greeting_composed(event: EventEnvelope, context) -> None:
    # A reply's causation_id is the id of the request it answers.
    context.bus.announce("visitor.greeted", {"greeting": event.data["greeting"]})


handler = worker.lambda_handler
