"""Handles standard orders (routed by order-router)."""

from soorma import Worker
from soorma_common import EventEnvelope

worker = Worker(name="standard-desk", capabilities=["standard-fulfilment"])


@worker.on_event("order.standard.route")
def enqueue(event: EventEnvelope, context) -> None:
    context.bus.announce("order.queued", {"order_id": event.data["order_id"]})


handler = worker.lambda_handler
