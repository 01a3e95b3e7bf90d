"""A Tool that reserves items in the warehouse and replies with a reservation."""

from soorma import Tool
from soorma_common import EventEnvelope

tool = Tool(name="warehouse", capabilities=["stock-reservation"])


@tool.on_invoke("stock.reserve")
def reserve(event: EventEnvelope, context) -> dict:
    items = event.data["items"]
    return {
        "order_id": event.data["order_id"],
        "reservation_id": f"res-{event.data['order_id']}",
        "units": sum(item["quantity"] for item in items),
    }


handler = tool.lambda_handler
