"""The stall sweep in the local cloud: the stage's rate schedule in moto, run by the schedule
pump (`soorma_dev.deadline_pump`) with the same sweep code as `functions/stall_sweep`
(`soorma.workflows.stalls.sweep`), in the cloud's process.

Time is scaled as the cloud's visibility timeouts are: with `time_scale` 0.1 a `rate(5 minutes)`
schedule fires every 30 s and a plan is stalled after 15 min * 0.1 = 90 s without progress.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from soorma_common import naming
from soorma_dev.deadline_pump import LocalTarget
from soorma_dev.provision import Platform

#: The schedule input's key (`functions/stall_sweep`).
STALLED_AFTER = "stalled_after_seconds"


@dataclass(frozen=True)
class StallSweepSchedule:
    """The local sweep's rate and threshold, in minutes of unscaled time (as the stack's
    `StallSweepProps`: every 5 minutes, stalled after 15)."""

    every_minutes: int = 5
    stalled_after_minutes: int = 15


#: The local cloud's default: the stack's.
DEFAULT_STALL_SWEEP = StallSweepSchedule()


def function_arn(platform: Platform) -> str:
    """The stall sweep's function ARN in the platform's account and region."""
    _, partition, _, region, account = platform.bus_arn.split(":")[:5]
    name = naming.platform_function_name(platform.stage, naming.STALL_SWEEP)
    return f"arn:{partition}:lambda:{region}:{account}:function:{name}"


def create_sweep_schedule(scheduler: Any, platform: Platform, sweep: StallSweepSchedule) -> str:
    """Create the rate schedule (as the stack does) in moto; return its target's ARN."""
    group = naming.schedule_group(platform.stage)
    with contextlib.suppress(scheduler.exceptions.ConflictException):
        scheduler.create_schedule_group(Name=group)
    account = platform.bus_arn.split(":")[4]
    arn = function_arn(platform)
    with contextlib.suppress(scheduler.exceptions.ConflictException):
        scheduler.create_schedule(
            Name=naming.stall_sweep_schedule_name(platform.stage),
            GroupName=group,
            ScheduleExpression=naming.stall_sweep_rate(sweep.every_minutes),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": arn,
                "RoleArn": f"arn:aws:iam::{account}:role/soorma-{platform.stage}-stall-sweep",
                "Input": json.dumps({STALLED_AFTER: sweep.stalled_after_minutes * 60}),
            },
        )
    return arn


def local_sweep(
    platform: Platform, dynamodb: Any, events: Any, *, time_scale: float
) -> LocalTarget:
    """What the schedule's target runs here: one sweep with the threshold scaled."""

    def run(event: Any) -> int:
        from soorma.memory.table import MemoryTable
        from soorma.workflows.stalls import platform_publisher, sweep

        table = MemoryTable(platform.tables["memory"], ttl_seconds=0, client=dynamodb)
        publish = platform_publisher(platform.bus_name, events)
        after = float(event.get(STALLED_AFTER, 900)) * time_scale
        return len(sweep(table, publish, stalled_after_seconds=after).reported)

    return run
