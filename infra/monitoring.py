"""Alarms (every DLQ not empty, every function's errors, stalled workflows) and the stage's
dashboard.

Metrics are addressed by resource name (`soorma_common.naming`), so the dashboard in the root
stack needs no references into the agents' nested stacks.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.agent_function import AgentFunction
from infra.stall_sweep import STALLED_METRIC, StallSweep
from soorma_common import naming
from soorma_common.delivery import METRICS_NAMESPACE
from soorma_common.manifest import AgentManifest

#: Outcomes the runtime counts per batch (`soorma.runtime.telemetry`), as metric names.
RUNTIME_METRICS = ("EventsHandled", "EventsPublished", "EventsFailed", "EventsDeadLettered")
PERIOD = Duration.minutes(1)


def agent_alarms(
    scope: Construct,
    agent: AgentFunction,
    actions: Sequence[cloudwatch.IAlarmAction] = (),
) -> list[cloudwatch.Alarm]:
    """An alarm on each of the agent's DLQs (depth > 0) and one on its function's errors."""
    alarms = []
    for subscription in agent.queues.values():
        depth = subscription.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        dlq = subscription.dead_letter_queue_name
        alarms.append(
            _above_zero(
                scope,
                naming.logical_id(subscription.topic.value, "dead-letters", "alarm"),
                depth,
                f"{dlq}-not-empty",
                f"Dead letters in {dlq}: inspect and redrive with `soorma dlq`",
            )
        )
    function_name = naming.function_name(agent.props.stage, agent.props.manifest.name)
    errors = agent.function.metric_errors(period=Duration.minutes(5), statistic="Sum")
    alarms.append(
        _above_zero(
            scope,
            "FunctionErrorsAlarm",
            errors,
            f"{function_name}-errors",
            f"Invocation errors of agent {agent.props.manifest.name}",
        )
    )
    return _notify(alarms, actions)


def stall_sweep_alarms(
    scope: Construct, sweep: StallSweep, actions: Sequence[cloudwatch.IAlarmAction] = ()
) -> list[cloudwatch.Alarm]:
    """An alarm when a sweep reports any stalled workflow (`StalledWorkflows` > 0), and one on
    the sweep's own errors (a sweep that fails reports nothing)."""
    period = Duration.minutes(max(5, sweep.props.every_minutes))
    stalled = cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=STALLED_METRIC,
        dimensions_map={"service": naming.STALL_SWEEP},
        statistic="Sum",
        period=period,
    )
    name = sweep.function_name
    alarms = [
        _above_zero(
            scope,
            "StalledWorkflowsAlarm",
            stalled,
            f"{name}-stalled-workflows",
            "Open plans without progress: see the workflow.stalled events on system-events "
            "(`soorma trace <correlation id>`)",
        ),
        _above_zero(
            scope,
            "StallSweepErrorsAlarm",
            sweep.function.metric_errors(period=period, statistic="Sum"),
            f"{name}-errors",
            "Invocation errors of the stall sweep",
        ),
    ]
    return _notify(alarms, actions)


def _above_zero(
    scope: Construct, construct_id: str, metric: cloudwatch.IMetric, name: str, description: str
) -> cloudwatch.Alarm:
    """An alarm when `metric` is above 0 in one period; no data is not a breach."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        alarm_name=name,
        alarm_description=description,
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def _notify(
    alarms: list[cloudwatch.Alarm], actions: Sequence[cloudwatch.IAlarmAction]
) -> list[cloudwatch.Alarm]:
    for alarm in alarms:
        for action in actions:
            alarm.add_alarm_action(action)
    return alarms


def _runtime_metric(agent: str, name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": agent},
        statistic="Sum",
        period=PERIOD,
        label=name.removeprefix("Events").lower(),
    )


def _queue_metric(queue: str, name: str, label: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/SQS",
        metric_name=name,
        dimensions_map={"QueueName": queue},
        statistic="Maximum",
        period=PERIOD,
        label=label,
    )


def stage_dashboard(
    scope: Construct, construct_id: str, stage: str, manifests: Sequence[AgentManifest]
) -> cloudwatch.Dashboard:
    """One dashboard for the stage: per agent, events handled/published/failed/dead-lettered,
    function errors, DLQ depth and the oldest message's age on its queues."""
    dashboard = cloudwatch.Dashboard(scope, construct_id, dashboard_name=naming.stack_name(stage))
    dashboard.add_widgets(
        cloudwatch.TextWidget(
            markdown=f"# Soorma `{stage}`\nOne row per agent. Alarms fire on any dead letter "
            "and any function error.",
            width=24,
            height=2,
        )
    )
    for manifest in manifests:
        agent = manifest.name
        queues = [naming.queue_name(stage, agent, topic) for topic in manifest.topics()]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{agent}: events",
                left=[_runtime_metric(agent, name) for name in RUNTIME_METRICS],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title=f"{agent}: failures",
                left=[
                    cloudwatch.Metric(
                        namespace="AWS/Lambda",
                        metric_name="Errors",
                        dimensions_map={"FunctionName": naming.function_name(stage, agent)},
                        statistic="Sum",
                        period=PERIOD,
                        label="function errors",
                    ),
                    *[
                        _queue_metric(
                            naming.dead_letter_queue_name(q),
                            "ApproximateNumberOfMessagesVisible",
                            f"DLQ {q.rsplit('-', 2)[-2]}-{q.rsplit('-', 2)[-1]}",
                        )
                        for q in queues
                    ],
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title=f"{agent}: oldest message age (s)",
                left=[
                    _queue_metric(
                        q, "ApproximateAgeOfOldestMessage", q.removeprefix(f"soorma-{stage}-")
                    )
                    for q in queues
                ],
                width=8,
            ),
        )
    return dashboard
