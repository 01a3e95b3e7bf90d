"""Charges an order's total (a Tool): replies `payment.charged` with `charged` true or false."""

from soorma import Tool
from soorma_common import EventEnvelope

tool = Tool(name="payment-gateway", capabilities=["payments"])

LIMIT = 1000


@tool.on_invoke("payment.charge")
def charge(event: EventEnvelope, context) -> dict:
    amount = event.data["amount"]
    return {"order_id": event.data["order_id"], "charged": 0 < amount <= LIMIT, "amount": amount}


handler = tool.lambda_handler
