"""What one committed decision publishes, stored with the decision so that a handler retried
after the commit publishes exactly the same events (same order, so the same derived ids)."""

from __future__ import annotations

from typing import Any

from soorma.ai.decisions import Deliberation
from soorma.context import PlatformContext
from soorma.workflows.tasks import reply_to_parent
from soorma_common.replies import failure_reply
from soorma_common.topics import EventTopic


class PlanEffects:
    """An ordered list of publications, as plain JSON (stored in the plan's state)."""

    def __init__(self, context: PlatformContext, plan_id: str) -> None:
        self.context = context
        self.plan_id = plan_id
        self.items: list[dict[str, Any]] = []

    def publish(self, topic: EventTopic, event_type: str, data: dict[str, Any]) -> None:
        """An event on `topic`, carrying the plan id."""
        self.items.append(
            {"kind": "publish", "topic": topic.value, "event": event_type, "data": data}
        )

    def lifecycle(self, event_type: str, data: dict[str, Any]) -> None:
        """A lifecycle event on `plan-events`."""
        self.publish(EventTopic.PLAN_EVENTS, event_type, {"plan_id": self.plan_id, **data})

    def request(
        self, event_type: str, data: Any, response_event: str, *, timeout: float | None = None
    ) -> str:
        """A request on `action-requests`, the reply addressed to this planner (with `timeout`,
        seconds: a deadline, `bus.request`'s); returns the id the request will have (derived
        from the handled event and its position)."""
        position = len(self.context.bus.outgoing_events()) + len(self.items)
        item = {"kind": "request", "event": event_type, "data": data, "response": response_event}
        if timeout is not None:
            item["timeout"] = timeout
        self.items.append(item)
        # apply() checks the prediction.
        return self.context.bus.next_event_id(position)

    def decision(self, decision: Deliberation[Any]) -> None:
        """`plan.decision` on `plan-events`: the tool chosen, why (200 characters), the tokens
        and the repairs it took."""
        call = decision.call
        self.lifecycle(
            "plan.decision",
            {
                "tool": call.name if call else None,
                "reason": (decision.responses[-1].text or "")[:200],
                "input_tokens": decision.usage.input_tokens,
                "output_tokens": decision.usage.output_tokens,
                "repairs": len(decision.rejections),
            },
        )

    def reply(self, goal: dict[str, Any], data: Any, *, failed: bool = False) -> None:
        """The final reply to the goal's requester."""
        self.items.append({"kind": "reply", "goal": goal, "data": data, "failed": failed})

    def apply(self) -> None:
        """Publish every item on the handler's bus (buffered until the handler succeeds)."""
        apply_effects(self.context, self.plan_id, self.items)


def apply_effects(context: PlatformContext, plan_id: str, items: list[dict[str, Any]]) -> None:
    """Publish stored effects in order on the handler's bus."""
    bus = context.bus
    for item in items:
        kind = item["kind"]
        if kind == "publish":
            bus.publish(item["topic"], item["event"], item["data"], plan_id=plan_id)
        elif kind == "request":
            bus.request(
                item["event"],
                item["data"],
                item["response"],
                plan_id=plan_id,
                timeout=item.get("timeout"),
            )
        elif kind == "reply":
            data = failure_reply(str(item["data"])) if item.get("failed") else item["data"]
            reply_to_parent(context, item["goal"], data)
        else:  # pragma: no cover - only this module writes effects
            raise ValueError(f"unknown plan effect {kind!r}")
