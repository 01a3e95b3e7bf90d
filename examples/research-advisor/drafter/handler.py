"""The drafter: turns notes into a draft (`draft.requested` -> `draft.completed`)."""

from soorma import Worker
from soorma_common import EventDefinition, EventTopic

DRAFT = EventDefinition(
    event_name="draft.requested",
    topic=EventTopic.ACTION_REQUESTS,
    description="Write a short draft answer from research notes.",
    payload_schema={
        "type": "object",
        "properties": {"notes": {"type": "string"}},
        "required": ["notes"],
    },
    metadata={"when_to_use": "after research", "response_event": "draft.completed"},
)
TEXT = "Tides follow the Moon: its pull raises two bulges of water that the Earth turns under."

worker = Worker(name="drafter", capabilities=["writing"], events_consumed=[DRAFT])


@worker.on_task("draft.requested")
def draft(event, context) -> dict:
    return {"draft_text": TEXT}


handler = worker.lambda_handler
