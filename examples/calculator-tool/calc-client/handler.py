"""Sends each problem of a worksheet to the calculator and records every answer."""

from soorma import Worker
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="calc-client", capabilities=["worksheets"])


@worker.on_event("worksheet.submitted", topic=EventTopic.BUSINESS_FACTS)
def submitted(event: EventEnvelope, context) -> None:
    for problem in event.data["problems"]:
        context.bus.request(
            f"math.{problem['op']}",
            {"a": problem["a"], "b": problem["b"]},
            response_event="math.answered",
        )


@worker.on_result("math.answered")
def answered(event: EventEnvelope, context) -> None:
    # causation_id of a reply = the id of the request it answers
    context.bus.announce(
        "worksheet.answer.recorded", {"request_id": event.causation_id, **event.data}
    )


handler = worker.lambda_handler
