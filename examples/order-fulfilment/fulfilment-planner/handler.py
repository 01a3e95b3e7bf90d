"""The fulfilment planner: one plan per `order.fulfil` goal.

The plan reserves stock and charges the payment in parallel, waits for both replies (fan-in,
exactly once), then moves to `fulfilled` when both succeeded (a condition over the replies),
else to `rejected`; either way it answers the goal's requester with `order.fulfilled`.
"""

from soorma import Planner
from soorma.memory import PlanStatus
from soorma.workflows import Action, PlanContext, PlanDefinition, State, Transition
from soorma_common import EventEnvelope

planner = Planner(name="fulfilment-planner", capabilities=["order-fulfilment"])

FULFILMENT = PlanDefinition(
    name="order-fulfilment",
    initial="fulfilling",
    states=[
        State(
            "fulfilling",
            actions=[
                Action(
                    "inventory.reserve",
                    "inventory.reserved",
                    data=lambda plan: {
                        "order_id": plan.goal_data["order_id"],
                        "items": plan.goal_data["items"],
                    },
                ),
                Action(
                    "payment.charge",
                    "payment.charged",
                    data=lambda plan: {
                        "order_id": plan.goal_data["order_id"],
                        "amount": plan.goal_data["total"],
                    },
                ),
            ],
            transitions=[
                Transition(
                    to="fulfilled",
                    when='results["inventory.reserved"].reserved == true '
                    'and results["payment.charged"].charged == true',
                )
            ],
            default_next="rejected",
        ),
        State("fulfilled", terminal=PlanStatus.COMPLETED),
        State("rejected", terminal=PlanStatus.FAILED),
    ],
)


@planner.on_goal("order.fulfil")
async def fulfil(event: EventEnvelope, context) -> None:
    await PlanContext.start(context, FULFILMENT)


@planner.on_result()
async def gather(event: EventEnvelope, context) -> None:
    plan = await PlanContext.restore(context, FULFILMENT)
    if plan is not None:
        await plan.advance(event)


@planner.on_transition(from_state="fulfilling")
def summarise(transition, plan: PlanContext, context) -> None:
    results = plan.results
    plan.result = {
        "success": transition.to_state == "fulfilled",
        "order_id": plan.goal_data["order_id"],
        "plan_id": plan.plan_id,
        "outcome": transition.to_state,
        "reservation": results.get("inventory.reserved"),
        "payment": results.get("payment.charged"),
    }


handler = planner.lambda_handler
