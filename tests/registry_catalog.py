"""The order/inventory contract the registry tests share (sync, enforcement, the CDK construct).

`order.placed` (a business fact, consumed by `order-processor`) and `inventory.reserve` (an
action request the order processor produces and `inventory` consumes), both with pydantic
schemas; the variants model schema changes, compatible and not.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from soorma import Agent, Worker
from soorma_common import EventDefinition, EventTopic
from soorma_common.manifest import AgentManifest


class OrderPlaced(BaseModel):
    """`order.placed` v1: no extra fields (`additionalProperties: false`), total >= 0."""

    model_config = ConfigDict(extra="forbid")

    order_id: str
    total: float = Field(ge=0)


class OrderPlacedWithNote(OrderPlaced):
    """An optional field: incompatible under the FULL rule, since v1 refuses undeclared fields
    (consumers still on v1 would reject a `note`)."""

    note: str | None = None


class OrderPlacedWithCustomer(OrderPlaced):
    """An incompatible change: a required field."""

    customer_id: str


class OrderPlacedTotalAsText(BaseModel):
    """An incompatible change: a field's type."""

    order_id: str
    total: str


class Reserve(BaseModel):
    """`inventory.reserve`."""

    sku: str
    quantity: int


ORDER_PLACED = EventDefinition(
    event_name="order.placed",
    topic=EventTopic.BUSINESS_FACTS,
    description="An order was placed",
    payload_schema=OrderPlaced,
)
RESERVE = EventDefinition(
    event_name="inventory.reserve",
    topic=EventTopic.ACTION_REQUESTS,
    description="Reserve stock",
    payload_schema=Reserve,
)


def order_placed(
    model: type[BaseModel] = OrderPlaced, *, name: str = "order.placed"
) -> EventDefinition:
    """`order.placed` (or a versioned name) with another payload model."""
    return EventDefinition(
        event_name=name,
        topic=ORDER_PLACED.topic,
        description=ORDER_PLACED.description,
        payload_schema=model,
    )


def order_processor(placed: EventDefinition = ORDER_PLACED) -> Agent:
    """Consumes `placed`, produces `inventory.reserve`; its handler does nothing."""
    orders = Agent("order-processor", events_consumed=[placed], events_produced=[RESERVE])
    orders.on_event(placed.event_name, topic=placed.topic)(lambda event, context: None)
    return orders


def inventory() -> Worker:
    """Consumes `inventory.reserve`; its handler does nothing."""
    worker = Worker("inventory", events_consumed=[RESERVE])
    worker.on_event(RESERVE.event_name)(lambda event, context: None)
    return worker


def order_manifests(
    placed: EventDefinition = ORDER_PLACED, *, with_inventory: bool = True
) -> list[AgentManifest]:
    """The manifests of the order processor (consuming `placed`) and, optionally, inventory."""
    agents: Sequence[Agent] = (
        [order_processor(placed), inventory()] if with_inventory else [order_processor(placed)]
    )
    return [agent.manifest() for agent in agents]
