"""The billing-desk: takes `billing.ticket.handle` and reports the ticket as taken."""

from soorma import Worker
from soorma_common import EventDefinition, EventTopic

TICKET = EventDefinition(
    event_name="billing.ticket.handle",
    topic=EventTopic.ACTION_REQUESTS,
    description="Billing questions: invoices, refunds, charges.",
    payload_schema={
        "type": "object",
        "properties": {"ticket_id": {"type": "string"}, "summary": {"type": "string"}},
        "required": ["ticket_id", "summary"],
        "additionalProperties": False,
    },
    metadata={"when_to_use": "a ticket about money"},
)

worker = Worker(name="billing-desk", capabilities=["support"], events_consumed=[TICKET])


@worker.on_event("billing.ticket.handle", topic=EventTopic.ACTION_REQUESTS)
def take(event, context) -> None:
    context.bus.publish(
        EventTopic.BUSINESS_FACTS,
        "ticket.taken",
        {"ticket_id": event.data["ticket_id"], "desk": "billing-desk"},
    )


handler = worker.lambda_handler
