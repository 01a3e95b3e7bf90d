"""Asks the solver with a 30 s deadline; announces whatever answer its result handler gets."""

from soorma import Worker
from soorma_common import EventTopic

worker = Worker(name="asker")


@worker.on_event("question.asked", topic=EventTopic.BUSINESS_FACTS)
def ask(event, context) -> None:
    context.bus.request("answer.compute", event.data, "answer.computed", timeout=30)


@worker.on_result("answer.computed")
def answered(event, context) -> None:
    context.bus.publish(EventTopic.BUSINESS_FACTS, "question.answered", event.data)


handler = worker.lambda_handler
