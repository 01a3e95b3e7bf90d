"""The escalations: takes `escalation.requested` and reports the ticket as taken."""

from soorma import Worker
from soorma_common import EventDefinition, EventTopic

TICKET = EventDefinition(
    event_name="escalation.requested",
    topic=EventTopic.ACTION_REQUESTS,
    description="Escalate an upset customer to a team lead.",
    payload_schema={
        "type": "object",
        "properties": {"ticket_id": {"type": "string"}, "summary": {"type": "string"}},
        "required": ["ticket_id", "summary"],
        "additionalProperties": False,
    },
    metadata={"when_to_use": "an angry or repeated complaint, or a legal threat"},
)

worker = Worker(name="escalations", capabilities=["support"], events_consumed=[TICKET])


@worker.on_event("escalation.requested", topic=EventTopic.ACTION_REQUESTS)
def take(event, context) -> None:
    context.bus.publish(
        EventTopic.BUSINESS_FACTS,
        "ticket.taken",
        {"ticket_id": event.data["ticket_id"], "desk": "escalations"},
    )


handler = worker.lambda_handler
