"""The validator: checks a draft before it is sent (`validation.requested`)."""

from soorma import Worker
from soorma_common import EventDefinition, EventTopic

VALIDATION = EventDefinition(
    event_name="validation.requested",
    topic=EventTopic.ACTION_REQUESTS,
    description="Check a draft for accuracy and tone.",
    payload_schema={
        "type": "object",
        "properties": {"draft": {"type": "string", "minLength": 1}},
        "required": ["draft"],
    },
    metadata={"when_to_use": "before completing", "response_event": "validation.completed"},
)

worker = Worker(name="validator", capabilities=["review"], events_consumed=[VALIDATION])


@worker.on_task("validation.requested")
def validate(event, context) -> dict:
    return {"valid": "Moon" in event.data["draft"]}


handler = worker.lambda_handler
