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
    scheduler: Any,
    events: Any,
    *,
    now: datetime | None = None,
    time_scale: float = 1.0,
    known: dict[str, dict[str, Any]] | None = None,
) -> int:
    """Fire every one-time schedule due at `now` (default: now); return how many fired.

    `known` (name -> schedule) keeps the schedules read before: a one-time schedule never
    changes, so a poller reads each once (`GetSchedule`), not on every round."""
    now = now or datetime.now(UTC)
    known = {} if known is None else known
    fired = 0
    listed = scheduler.list_schedules().get("Schedules", [])
    for gone in known.keys() - {summary["Name"] for summary in listed}:
        del known[gone]
    for summary in listed:
        schedule = known.get(summary["Name"])
        if schedule is None:
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
            known[summary["Name"]] = schedule
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
            known.pop(summary["Name"], None)
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
        self._known: dict[str, dict[str, Any]] = {}

    def check(self) -> int:
        """One round: fire what is due now."""
        fired = fire_due_schedules(
            self.scheduler, self.events, time_scale=self.time_scale, known=self._known
        )
        self.fired += fired
        return fired
