"""Answers `stock.check` requests: everything is in stock."""

from soorma import Tool
from soorma_common import EventEnvelope

tool = Tool(name="stock", capabilities=["stock"])


@tool.on_invoke("stock.check")
def check(event: EventEnvelope, context) -> dict:
    return {"order_id": event.data["order_id"], "in_stock": True}


handler = tool.lambda_handler
