"""The Soorma agent the benchmarks run: the same work as `handwritten_handler.py`."""

from __future__ import annotations

from typing import Any

from soorma import Agent
from soorma_common import EventEnvelope, EventTopic

agent = Agent("bench-agent")


@agent.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def on_order_placed(event: EventEnvelope, context: Any) -> None:
    context.logger.info("order handled", extra={"order": event.data["order"]})
    context.bus.announce("order.seen", {"order": event.data["order"]})


handler = agent.lambda_handler
