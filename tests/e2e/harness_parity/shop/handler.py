"""Asks the stock tool about an order, then confirms it (two subscribers hear of it)."""

from soorma import Worker
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="shop", events_produced=["stock.check", "order.confirmed"])


@worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def placed(event: EventEnvelope, context) -> None:
    context.bus.request("stock.check", event.data, response_event="stock.checked")


@worker.on_result("stock.checked")
def checked(event: EventEnvelope, context) -> None:
    context.bus.announce("order.confirmed", event.data)


handler = worker.lambda_handler
