"""Reserves stock for every placed order: asks the warehouse Tool, then announces the result."""

from soorma import Worker
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="inventory", capabilities=["stock-management"])


@worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def order_placed(event: EventEnvelope, context) -> None:
    context.bus.request(
        "stock.reserve",
        {"order_id": event.data["order_id"], "items": event.data["items"]},
        response_event="stock.reserved",
    )


@worker.on_result("stock.reserved")
def stock_reserved(event: EventEnvelope, context) -> None:
    context.bus.announce("inventory.reserved", event.data)


handler = worker.lambda_handler
