"""Validates orders. Its first version cannot read totals written with a decimal comma
("12,50"): such an order is a poison message and goes to the DLQ. With the fix switched on
(`POISON_FIXED=1`), the same order is read, so redriving it from the DLQ succeeds.
"""

import os

from pydantic import BaseModel, ValidationError, field_validator

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic, PermanentError

agent = Agent(name="order-validator", events_produced=["order.validated"])


class UnreadableOrderError(PermanentError):
    """An order payload this agent cannot read: retrying will not help, only a fix will."""


class Order(BaseModel):
    order_id: str
    total: float

    @field_validator("total", mode="before")
    @classmethod
    def decimal_comma(cls, value):
        if os.environ.get("POISON_FIXED") == "1" and isinstance(value, str):
            return value.replace(",", ".")  # the fix
        return value


@agent.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def validate(event: EventEnvelope, context) -> None:
    try:
        order = Order.model_validate(event.data)
    except ValidationError as exc:
        raise UnreadableOrderError(f"order {event.data!r} cannot be read: {exc}") from None
    context.bus.announce("order.validated", order.model_dump())


handler = agent.lambda_handler
