"""The researcher: answers `research.requested` with findings."""

from soorma import Worker
from soorma_common import EventDefinition, EventTopic

RESEARCH = EventDefinition(
    event_name="research.requested",
    topic=EventTopic.ACTION_REQUESTS,
    description="Research a topic and report findings.",
    payload_schema={
        "type": "object",
        "properties": {"topic": {"type": "string", "minLength": 1}},
        "required": ["topic"],
        "additionalProperties": False,
    },
    metadata={"when_to_use": "first, to gather facts", "response_event": "research.completed"},
)

worker = Worker(name="researcher", capabilities=["research"], events_consumed=[RESEARCH])


@worker.on_task("research.requested")
def research(event, context) -> dict:
    return {"findings": f"what is known about {event.data['topic']}"}


handler = worker.lambda_handler
