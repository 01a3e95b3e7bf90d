"""Request deadlines on AWS (`soorma.deadlines`): the stage's schedule group and the role
EventBridge Scheduler assumes to put timeout replies on the bus, and what an agent needs to set
a deadline (create a schedule in that group, pass that role)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from soorma_common import naming
from soorma_common.environment import DEADLINE_ROLE_ARN, EVENT_BUS_ARN, SCHEDULE_GROUP


class RequestDeadlines(Construct):
    """The schedule group `soorma-<stage>` and the Scheduler role (`events:PutEvents` on the
    bus as `soorma.platform` only). Attributes: `group_name`, `role`."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, bus: events.IEventBus):
        super().__init__(scope, construct_id)
        self.bus = bus
        self.stage = naming.check_stage(stage)
        self.group_name = naming.schedule_group(self.stage)
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=self.group_name)
        self.role = iam.Role(
            self,
            "SchedulerRole",
            role_name=naming.deadline_role_name(stage),
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description=f"EventBridge Scheduler puts request timeouts on the {stage} bus",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PutTimeoutRepliesAsThePlatform",
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                conditions={"StringEquals": {"events:source": naming.PLATFORM_SOURCE}},
            )
        )

    def environment(self) -> dict[str, str]:
        """What an agent's function needs to set deadlines (`soorma.config`): ARNs spelled from
        the fixed names (no cross-stack reference to the role or the bus)."""
        stack = Stack.of(self)
        return {
            EVENT_BUS_ARN: stack.format_arn(
                service="events", resource="event-bus", resource_name=naming.bus_name(self.stage)
            ),
            DEADLINE_ROLE_ARN: stack.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=naming.deadline_role_name(self.stage),
            ),
            SCHEDULE_GROUP: self.group_name,
        }

    def schedules_arn(self) -> str:
        """The ARN pattern of the deadlines' schedules in the group."""
        return Stack.of(self).format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{self.group_name}/{naming.DEADLINE_SCHEDULE_PREFIX}*",
        )

    def agent_statements(self) -> list[iam.PolicyStatement]:
        """Create a deadline's schedule in the group, and pass the Scheduler role to it."""
        return [
            iam.PolicyStatement(
                sid="SetRequestDeadlines",
                actions=["scheduler:CreateSchedule"],
                resources=[self.schedules_arn()],
            ),
            iam.PolicyStatement(
                sid="PassTheDeadlineRoleToScheduler",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            ),
        ]
