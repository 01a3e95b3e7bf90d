"""A planner whose only state asks for a score nobody computes: its plan stalls."""

from soorma import Planner
from soorma.memory import PlanStatus
from soorma.workflows import Action, PlanContext, PlanDefinition, State
from soorma_common import EventEnvelope

LOAN = PlanDefinition(
    name="loan",
    initial="scoring",
    states=[
        State("scoring", actions=[Action("score.compute", "score.computed")], default_next="done"),
        State("done", terminal=PlanStatus.COMPLETED),
    ],
)

planner = Planner(name="loan-planner")


@planner.on_goal("loan.assess")
async def assess(event: EventEnvelope, context) -> None:
    await PlanContext.start(context, LOAN)


@planner.on_result()
async def result(event: EventEnvelope, context) -> None:
    plan = await PlanContext.restore(context, LOAN)
    if plan is not None:
        await plan.advance(event)


handler = planner.lambda_handler
