"""Fire EventBridge Scheduler's one-time schedules on moto, which stores them but never fires
them: what the moto harness and the local cloud do for request deadlines (`soorma.deadlines`).

A schedule `at(T)` is due when `now >= T`; with a `time_scale` (the local cloud's), it is due
`(T - created) * time_scale` after it was created, as visibility timeouts are scaled. Firing
puts the target's input on the target bus (EventBridge target: `Source`, `DetailType`) and,
as `ActionAfterCompletion: DELETE` asks, deletes the schedule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from soorma_dev.polling import Poller

_AT = "at("


def due_time(schedule: dict[str, Any], time_scale: float = 1.0) -> datetime | None:
    """When a one-time schedule fires (None for other schedules)."""
    expression = str(schedule.get("ScheduleExpression", ""))
    if not expression.startswith(_AT):
        return None
    at = datetime.fromisoformat(expression[len(_AT) : -1]).replace(tzinfo=UTC)
    if time_scale == 1.0:
        return at
    created = schedule.get("CreationDate")
    start = (
        created
        if isinstance(created, datetime)
        else datetime.fromtimestamp(float(created or at.timestamp()), UTC)
    )
    return start + (at - start) * time_scale


def fire_due_schedules(
    scheduler: Any, events: Any, *, now: datetime | None = None, time_scale: float = 1.0
) -> int:
    """Fire every one-time schedule due at `now` (default: now); return how many fired."""
    now = now or datetime.now(UTC)
    fired = 0
    for summary in scheduler.list_schedules().get("Schedules", []):
        schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
        due = due_time(schedule, time_scale)
        if due is None or due > now:
            continue
        target = schedule["Target"]
        parameters = target.get("EventBridgeParameters", {})
        entry = {
            "EventBusName": target["Arn"],
            "Source": parameters["Source"],
            "DetailType": parameters["DetailType"],
            "Detail": target["Input"],
        }
        response = events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            continue  # Scheduler retries a failed target; so does the next round here
        if schedule.get("ActionAfterCompletion") == "DELETE":
            scheduler.delete_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
        fired += 1
    return fired


class SchedulePump(Poller):
    """Fires due schedules every `interval` seconds (the local cloud's EventBridge Scheduler),
    with the cloud's `time_scale`; `fired` counts them."""

    def __init__(
        self, scheduler: Any, events: Any, *, time_scale: float, interval: float = 0.25
    ) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.events = events
        self.time_scale = time_scale
        self.interval = interval
        self.fired = 0

    def check(self) -> int:
        """One round: fire what is due now."""
        fired = fire_due_schedules(self.scheduler, self.events, time_scale=self.time_scale)
        self.fired += fired
        return fired
