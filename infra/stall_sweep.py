"""`StallSweep`: the scheduled sweep that reports stalled workflows (`soorma.workflows.stalls`).

An EventBridge Scheduler rate schedule (in the stage's schedule group) invokes the platform
function `functions/stall_sweep` every `every_minutes` with `{"stalled_after_seconds": N}`. The
function may only Query the memory table's `by_progress` index, mark plan items
(`T#*#PLAN#*`), and put `workflow.stalled` on the bus as `soorma.platform`; the Scheduler's role
may only invoke that function. See docs/deadlines.md, "Stalled workflows".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.bundling import function_code
from infra.deadlines import RequestDeadlines
from infra.function_parts import function_log_group, lambda_role
from infra.nag import acknowledge_runtime
from infra.paths import FUNCTIONS_ROOT
from infra.permissions import table_statement
from infra.powertools import ARCHITECTURE, RUNTIME
from soorma_common import naming
from soorma_common.delivery import METRICS_NAMESPACE
from soorma_common.environment import (
    EVENT_BUS,
    MEMORY_TABLE,
    POWERTOOLS_METRICS_NAMESPACE,
    POWERTOOLS_SERVICE_NAME,
    STAGE,
)

#: The function's asset folder (a platform function, not an agent).
STALL_SWEEP_CODE = FUNCTIONS_ROOT / "stall_sweep"
#: The memory table's index of open plans (`soorma_common.tables`).
PROGRESS_INDEX = "by_progress"
#: The metric the function emits per sweep (plans reported), with `service=stall-sweep`.
STALLED_METRIC = "StalledWorkflows"


class StallSweepSettingsError(ValueError):
    """A sweep that could not run as asked (a rate or threshold out of range)."""


@dataclass(frozen=True)
class StallSweepProps:
    """The stall sweep's settings.

    - `every_minutes`: the schedule's rate (default 5; 1 to 1,440).
    - `stalled_after_minutes`: how long an open plan may go without progress before it is
      reported (default 15; at least `every_minutes`).
    - `timeout_seconds`, `memory_mib`, `log_retention`, `code_path`, `environment`: the
      function's.
    """

    every_minutes: int = 5
    stalled_after_minutes: int = 15
    timeout_seconds: int = 60
    memory_mib: int = 256
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    code_path: Path = STALL_SWEEP_CODE
    environment: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Raise `StallSweepSettingsError` for a rate or threshold out of range."""
        if not 1 <= self.every_minutes <= 1440:
            raise StallSweepSettingsError(
                f"stall sweep: every_minutes={self.every_minutes} is outside 1..1440"
            )
        if self.stalled_after_minutes < self.every_minutes:
            raise StallSweepSettingsError(
                f"stall sweep: stalled_after_minutes={self.stalled_after_minutes} is shorter "
                f"than the sweep's rate (every_minutes={self.every_minutes}): make it at least "
                "the rate"
            )

    def rate_expression(self) -> str:
        """The schedule's expression (`rate(1 minute)`, `rate(5 minutes)`)."""
        return naming.stall_sweep_rate(self.every_minutes)

    def schedule_input(self) -> str:
        """What the schedule passes to the function."""
        return json.dumps({"stalled_after_seconds": self.stalled_after_minutes * 60})


class StallSweep(Construct):
    """The sweep's function, its role, and the rate schedule with the role Scheduler assumes.

    Attributes: `function`, `function_name`, `role`, `log_group`, `schedule`,
    `scheduler_role`, `props`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        bus: events.IEventBus,
        memory_table: dynamodb.ITable,
        layers: Sequence[lambda_.ILayerVersion],
        deadlines: RequestDeadlines,
        props: StallSweepProps,
    ) -> None:
        super().__init__(scope, construct_id)
        props.check()
        self.props = props
        function_name = naming.platform_function_name(stage, naming.STALL_SWEEP)
        self.function_name = function_name
        self.role = lambda_role(
            self, f"Soorma stall sweep ({stage}): read open plans, report stalled ones"
        )
        self.log_group = function_log_group(self, function_name, props.log_retention)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="Soorma stall sweep: workflow.stalled for open plans without progress",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=function_code(props.code_path),
            layers=list(layers),
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.seconds(props.timeout_seconds),
            memory_size=props.memory_mib,
            # Scheduler invokes asynchronously; a failed sweep is made up by the next one.
            retry_attempts=0,
            environment={
                STAGE: stage,
                EVENT_BUS: bus.event_bus_name,
                MEMORY_TABLE: memory_table.table_name,
                POWERTOOLS_SERVICE_NAME: naming.STALL_SWEEP,
                POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
                **props.environment,
            },
        )
        self.log_group.grant_write(self.role)
        self._grant(bus, memory_table)
        acknowledge_runtime(self.function, RUNTIME.name)

        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description=f"EventBridge Scheduler invokes the {stage} stall sweep",
        )
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeTheStallSweep",
                actions=["lambda:InvokeFunction"],
                resources=[self.function.function_arn],
            )
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            name=naming.stall_sweep_schedule_name(stage),
            group_name=deadlines.group_name,
            description=f"Report stalled workflows of the {stage} stage",
            schedule_expression=props.rate_expression(),
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.function.function_arn,
                role_arn=self.scheduler_role.role_arn,
                input=props.schedule_input(),
                # A missed sweep is made up by the next one: no retries piling up.
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=0, maximum_event_age_in_seconds=60
                ),
            ),
        )
        self.schedule.node.add_dependency(deadlines.group)

    def _grant(self, bus: events.IEventBus, memory_table: dynamodb.ITable) -> None:
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReportStalledWorkflowsAsThePlatform",
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                conditions={
                    "StringEquals": {
                        "events:source": naming.PLATFORM_SOURCE,
                        "events:detail-type": naming.WORKFLOW_STALLED_EVENT,
                    }
                },
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QueryOpenPlans",
                actions=["dynamodb:Query"],
                resources=[f"{memory_table.table_arn}/index/{PROGRESS_INDEX}"],
            )
        )
        # The mark: one conditional UpdateItem on a plan's own item, never another key.
        self.role.add_to_principal_policy(
            table_statement(
                "MarkStalledPlans",
                memory_table.table_arn,
                ("dynamodb:UpdateItem",),
                leading_keys=["T#*#PLAN#*"],
            )
        )


#: Context keys of the sweep (`-c stall-sweep=off`, `-c stall-sweep-every-minutes=5`,
#: `-c stall-sweep-after-minutes=15`); documented in docs/deadlines.md.
STALL_SWEEP_CONTEXT_KEYS = (
    "stall-sweep",
    "stall-sweep-every-minutes",
    "stall-sweep-after-minutes",
)


def stall_sweep_from_context(context: Callable[[str], Any]) -> StallSweepProps | None:
    """`StallSweepProps` from CDK context (`app.node.try_get_context`): None when
    `stall-sweep` is `off` (no sweep), else the defaults with the rate and threshold given."""
    switch = context("stall-sweep")
    if switch is not None and str(switch).lower() not in ("on", "off"):
        raise StallSweepSettingsError(f"context stall-sweep={switch!r}: use on or off")
    if str(switch).lower() == "off":
        return None
    values: dict[str, int] = {}
    for key, name in (
        ("stall-sweep-every-minutes", "every_minutes"),
        ("stall-sweep-after-minutes", "stalled_after_minutes"),
    ):
        if context(key) is not None:
            values[name] = int(context(key))
    props = StallSweepProps(**values)  # type: ignore[arg-type]
    props.check()
    return props
