"""Telling people a plan waits for them: `plan.waiting_for_input` on `notification-events`."""

from __future__ import annotations

from collections.abc import Sequence

from soorma.context import PlatformContext
from soorma.workflows.plan_definitions import INPUT_REQUESTED, RunningPlan, State
from soorma_common.topics import EventTopic


def announce_input_waits(
    context: PlatformContext, plan_id: str, plan: RunningPlan, state: State, sent: Sequence[str]
) -> None:
    """For each `ask_for_input` action of the state just entered, publish what is asked, the
    request to answer (`request_id`) and the agent to answer (`to`)."""
    for action, request_id in zip(state.actions, sent, strict=True):
        if action.event_type != INPUT_REQUESTED:
            continue
        asked = action.payload(plan)
        context.bus.publish(
            EventTopic.NOTIFICATION_EVENTS,
            "plan.waiting_for_input",
            {
                "plan_id": plan_id,
                "state": state.name,
                "prompt": asked.get("prompt") if isinstance(asked, dict) else None,
                "request_id": request_id,
                "to": context.agent.name,
            },
            plan_id=plan_id,
        )
