"""Reserves stock for an order (a Tool): replies `inventory.reserved`, `reserved` true or false."""

from soorma import Tool
from soorma_common import EventEnvelope

tool = Tool(name="stock-keeper", capabilities=["stock-reservation"])

STOCK = {"tea": 100, "mug": 10, "kettle": 1}


@tool.on_invoke("inventory.reserve")
def reserve(event: EventEnvelope, context) -> dict:
    items = event.data["items"]
    short = [i["sku"] for i in items if STOCK.get(i["sku"], 0) < i["quantity"]]
    return {"order_id": event.data["order_id"], "reserved": not short, "short": short}


handler = tool.lambda_handler
