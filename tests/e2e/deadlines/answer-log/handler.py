"""Records each announced answer (so the test sees it handled)."""

from soorma import Worker
from soorma_common import EventTopic

worker = Worker(name="answer-log")


@worker.on_event("question.answered", topic=EventTopic.BUSINESS_FACTS)
def record(event, context) -> None:
    return None


handler = worker.lambda_handler
