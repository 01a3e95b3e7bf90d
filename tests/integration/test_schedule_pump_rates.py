"""The schedule pump fires rate schedules (the stall sweep's) on moto: one period after creation,
then once per period, time scaled; one-time schedules still fire as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from soorma_dev.deadline_pump import fire_due_schedules, rate_period

TARGET = "arn:aws:lambda:us-east-1:123456789012:function:soorma-test-stall-sweep"


def test_rate_expressions_have_their_period() -> None:
    assert rate_period("rate(1 minute)") == timedelta(minutes=1)
    assert rate_period("rate(5 minutes)") == timedelta(minutes=5)
    assert rate_period("rate(2 hours)") == timedelta(hours=2)
    assert rate_period("at(2026-12-03T10:00:00)") is None


@mock_aws
def test_a_rate_schedule_fires_once_per_scaled_period() -> None:
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    scheduler.create_schedule(
        Name="soorma-test-stall-sweep",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": TARGET, "RoleArn": "arn:aws:iam::123456789012:role/r", "Input": '{"a": 1}'},
    )
    created = scheduler.get_schedule(Name="soorma-test-stall-sweep")["CreationDate"]
    start = created if isinstance(created, datetime) else datetime.now(UTC)
    inputs: list[Any] = []
    fired_at: dict[str, datetime] = {}

    def fire(seconds: float) -> int:
        return fire_due_schedules(
            scheduler,
            events,
            now=start + timedelta(seconds=seconds),
            time_scale=0.1,  # every 30 s
            invoke={TARGET: inputs.append},
            last_fired=fired_at,
        )

    counts = [fire(s) for s in (10, 31, 40, 59, 62, 95)]

    assert counts == [0, 1, 0, 0, 1, 1]
    assert inputs == [json.loads('{"a": 1}')] * 3
    assert len(scheduler.list_schedules()["Schedules"]) == 1  # a rate schedule stays
