"""Fire EventBridge Scheduler's schedules on moto, which stores them but never fires them: what
the moto harness and the local cloud do for request deadlines (`soorma.deadlines`) and the
stall sweep (`soorma.workflows.stalls`).

A schedule `at(T)` is due when `now >= T`; with a `time_scale` (the local cloud's), it is due
`(T - created) * time_scale` after it was created, as visibility timeouts are scaled. Firing
puts the target's input on the target bus (EventBridge target: `Source`, `DetailType`) and,
as `ActionAfterCompletion: DELETE` asks, deletes the schedule.

A schedule `rate(N minutes)` whose target is a function given in `invoke` (function ARN ->
callable) fires every `N minutes * time_scale`, the first time one period after it was created
(as Scheduler does); firing calls the function with the target's input (JSON-decoded).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from soorma_dev.polling import Poller

_AT = "at("
_RATE = "rate("
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}

#: What a rate schedule's target runs locally: its input in, anything out.
LocalTarget = Callable[[Any], Any]


def rate_period(expression: str) -> timedelta | None:
    """The period of `rate(<n> <unit>)` (None for other expressions)."""
    if not expression.startswith(_RATE):
        return None
    count, unit = expression[len(_RATE) : -1].split()
    return timedelta(seconds=int(count) * _UNITS[unit])


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


def list_all_schedules(scheduler: Any) -> list[dict[str, Any]]:
    """Every schedule's summary, page after page of `ListSchedules` (`NextToken`): a due
    schedule may be listed behind any number of later ones."""
    listed: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = scheduler.list_schedules(**({"NextToken": token} if token else {}))
        listed.extend(page.get("Schedules", []))
        token = page.get("NextToken")
        if not token:
            return listed


def fire_due_schedules(
    scheduler: Any,
    events: Any,
    *,
    now: datetime | None = None,
    time_scale: float = 1.0,
    known: dict[str, dict[str, Any]] | None = None,
    invoke: Mapping[str, LocalTarget] | None = None,
    last_fired: dict[str, datetime] | None = None,
) -> int:
    """Fire every schedule due at `now` (default: now); return how many fired.

    `known` (name -> schedule) keeps the schedules read before: a schedule never changes here,
    so a poller reads each once (`GetSchedule`), not on every round. `invoke` runs the rate
    schedules' function targets; `last_fired` (name -> time) remembers when each fired."""
    now = now or datetime.now(UTC)
    known = {} if known is None else known
    last_fired = {} if last_fired is None else last_fired
    fired = 0
    listed = list_all_schedules(scheduler)
    for gone in known.keys() - {summary["Name"] for summary in listed}:
        del known[gone]
    for summary in listed:
        schedule = known.get(summary["Name"])
        if schedule is None:
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
            known[summary["Name"]] = schedule
        local = invoke.get(schedule["Target"]["Arn"]) if invoke else None
        if local is not None:
            fired += _fire_rate(schedule, local, now, time_scale, last_fired)
            continue
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


def _fire_rate(
    schedule: dict[str, Any],
    target: LocalTarget,
    now: datetime,
    time_scale: float,
    last_fired: dict[str, datetime],
) -> int:
    period = rate_period(str(schedule.get("ScheduleExpression", "")))
    if period is None:
        return 0
    name = schedule["Name"]
    previous = last_fired.get(name) or _created(schedule, now)
    if now < previous + period * time_scale:
        return 0
    last_fired[name] = now
    target(json.loads(schedule["Target"].get("Input") or "{}"))
    return 1


def _created(schedule: dict[str, Any], default: datetime) -> datetime:
    created = schedule.get("CreationDate")
    if isinstance(created, datetime):
        return created
    return datetime.fromtimestamp(float(created), UTC) if created else default


class SchedulePump(Poller):
    """Fires due schedules every `interval` seconds (the local cloud's EventBridge Scheduler),
    with the cloud's `time_scale`; `fired` counts them."""

    def __init__(
        self,
        scheduler: Any,
        events: Any,
        *,
        time_scale: float,
        interval: float = 0.25,
        invoke: Mapping[str, LocalTarget] | None = None,
    ) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.events = events
        self.time_scale = time_scale
        self.interval = interval
        #: The rate schedules' function targets (ARN -> what runs them locally).
        self.invoke = dict(invoke or {})
        self.fired = 0
        self._known: dict[str, dict[str, Any]] = {}
        self._last_fired: dict[str, datetime] = {}

    def check(self) -> int:
        """One round: fire what is due now."""
        fired = fire_due_schedules(
            self.scheduler,
            self.events,
            time_scale=self.time_scale,
            known=self._known,
            invoke=self.invoke,
            last_fired=self._last_fired,
        )
        self.fired += fired
        return fired
