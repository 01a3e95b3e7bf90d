"""Books confirmations and cancellations; until its fix (`<PARITY_STATE>/ledger-fixed`), it
cannot read an amount written with a decimal comma: a poison event."""

import os
from pathlib import Path

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic, PermanentError

agent = Agent(name="ledger")


class UnreadableAmountError(PermanentError):
    """An amount this version of the ledger cannot read."""


@agent.on_event("order.confirmed", topic=EventTopic.BUSINESS_FACTS)
def book(event: EventEnvelope, context) -> None:
    pass


@agent.on_event("order.cancelled", topic=EventTopic.BUSINESS_FACTS)
def refund(event: EventEnvelope, context) -> None:
    amount = str(event.data["amount"])
    if "," in amount and not (Path(os.environ["PARITY_STATE"]) / "ledger-fixed").exists():
        raise UnreadableAmountError(f"amount {amount!r} is not a number: use a decimal point")


handler = agent.lambda_handler
