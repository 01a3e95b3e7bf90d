"""Handles priority orders (routed by order-router)."""

from soorma import Worker
from soorma_common import EventEnvelope

worker = Worker(name="priority-desk", capabilities=["priority-fulfilment"])


@worker.on_event("order.priority.route")
def expedite(event: EventEnvelope, context) -> None:
    context.bus.announce("order.expedited", {"order_id": event.data["order_id"]})


handler = worker.lambda_handler
