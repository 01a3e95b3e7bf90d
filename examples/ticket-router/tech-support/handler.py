"""The tech-support: takes `technical.ticket.handle` and reports the ticket as taken."""

from soorma import Worker
from soorma_common import EventDefinition, EventTopic

TICKET = EventDefinition(
    event_name="technical.ticket.handle",
    topic=EventTopic.ACTION_REQUESTS,
    description="Technical problems: errors, crashes, log-in trouble.",
    payload_schema={
        "type": "object",
        "properties": {"ticket_id": {"type": "string"}, "summary": {"type": "string"}},
        "required": ["ticket_id", "summary"],
        "additionalProperties": False,
    },
    metadata={"when_to_use": "a ticket about the product not working"},
)

worker = Worker(name="tech-support", capabilities=["support"], events_consumed=[TICKET])


@worker.on_event("technical.ticket.handle", topic=EventTopic.ACTION_REQUESTS)
def take(event, context) -> None:
    context.bus.publish(
        EventTopic.BUSINESS_FACTS,
        "ticket.taken",
        {"ticket_id": event.data["ticket_id"], "desk": "tech-support"},
    )


handler = worker.lambda_handler
