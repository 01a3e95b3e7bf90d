"""The storefront: asks the fulfilment planner to fulfil each placed order, records the outcome.

It is the requester of `order.fulfil`; the planner's reply (`order.fulfilled`) comes back here
only, because it is addressed to this agent (`reply_to`).
"""

from soorma import Worker
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="storefront", capabilities=["storefront"])


@worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
def order_placed(event: EventEnvelope, context) -> None:
    context.bus.request("order.fulfil", event.data, response_event="order.fulfilled")


@worker.on_result("order.fulfilled")
async def order_fulfilled(event: EventEnvelope, context) -> None:
    await context.memory.log_interaction(
        agent_id="storefront",
        role="system",
        content=event.data,
        metadata={"plan_id": event.data.get("plan_id")},
        interaction_id=event.id,
        at=event.time,
    )


handler = worker.lambda_handler
