"""`AgentFunction`: one agent's Lambda, queues, DLQs, rules, event-source mappings and IAM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import function_code
from infra.deadlines import RequestDeadlines
from infra.function_parts import function_log_group, lambda_role
from infra.nag import acknowledge, acknowledge_runtime, acknowledge_tracing
from infra.permissions import (
    IDEMPOTENCY_ACTIONS,
    MEMORY_ACTIONS,
    REGISTRY_READ_ACTIONS,
    TABLE_WRITE_ACTIONS,
    bedrock_invoke_statements,
    dead_letter_send_statement,
    idempotency_key_patterns,
    profile_underlying,
    put_events_statement,
    table_statement,
)
from infra.platform import retains_data
from infra.powertools import ARCHITECTURE, RUNTIME
from infra.subscription_queue import SubscriptionQueue
from soorma_common import naming
from soorma_common.delivery import (
    BATCH_SIZE,
    DEFAULT_FUNCTION_TIMEOUT_SECONDS,
    RULE_MAX_EVENT_AGE_SECONDS,
    RULE_MAX_RETRY_ATTEMPTS,
    VISIBILITY_TIMEOUT_FACTOR,
    visibility_timeout_for,
)
from soorma_common.environment import function_environment
from soorma_common.manifest import AgentKind, AgentManifest
from soorma_common.routing import RuleSpec, rules_for
from soorma_common.tables import TABLES
from soorma_common.topics import EventTopic

#: The event-source mappings' `MaximumConcurrency` when none is set: at most 10 concurrent
#: invocations per subscribed queue, so a flood (or a loop) on one topic cannot take the
#: account's whole Lambda concurrency; raise it per agent with `max_concurrency` (2-1000).
DEFAULT_MAX_CONCURRENCY = 10
#: Lambda's largest timeout and SQS's largest visibility timeout.
MAX_FUNCTION_TIMEOUT_SECONDS = 900
MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 3600


class DeliverySettingsError(ValueError):
    """A prop combination that breaks the delivery path (e.g. visibility < 6 x timeout)."""


@dataclass(frozen=True)
class AgentFunctionProps:
    """What one agent is built from. Defaults are documented in docs/deployment.md.

    - `manifest`, `code_path`: the agent's manifest and its folder (the Lambda asset; a
      `requirements.txt` in it is installed into the asset for Lambda's platform, see
      `infra.bundling`).
    - `stage`, `bus`, `tables` (role -> table), `layers`: from `SoormaPlatform`.
    - `timeout_seconds` (default 30) and `memory_mib` (default 512).
    - `max_concurrency`: the event-source mappings' `MaximumConcurrency` (2-1000; None =
      `DEFAULT_MAX_CONCURRENCY`, 10 per queue). Reserved concurrency is never set: throttled
      invocations burn receive counts, while `MaximumConcurrency` only slows the pollers.
    - `retain_queues`: keep the queues and DLQs on stack deletion (default: as the tables,
      production stages, `platform.retains_data`).
    - `visibility_timeout_seconds`: default 6 x timeout; a smaller value is a synth error.
    - `log_retention`: the function's log group retention (default one month).
    - `writes_event_log`: grant write on the events table (default: agents of
      `kind="platform"` only).
    - `environment`: extra environment variables.
    - `deadlines`: `SoormaPlatform.deadlines`, so that `request(..., timeout=)` can set a
      deadline (None: requests with a timeout are refused at run time).
    """

    manifest: AgentManifest
    code_path: Path
    stage: str
    bus: events.IEventBus
    tables: Mapping[str, dynamodb.ITable]
    layers: Sequence[lambda_.ILayerVersion]
    timeout_seconds: int = DEFAULT_FUNCTION_TIMEOUT_SECONDS
    memory_mib: int = 512
    max_concurrency: int | None = None
    retain_queues: bool | None = None
    visibility_timeout_seconds: int | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    writes_event_log: bool | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    deadlines: RequestDeadlines | None = None

    def visibility_timeout(self) -> int:
        """The queues' visibility timeout, checked against the function timeout."""
        if not 1 <= self.timeout_seconds <= MAX_FUNCTION_TIMEOUT_SECONDS:
            raise DeliverySettingsError(
                f"agent {self.manifest.name!r}: timeout_seconds={self.timeout_seconds} is outside "
                f"Lambda's 1..{MAX_FUNCTION_TIMEOUT_SECONDS}"
            )
        needed = visibility_timeout_for(self.timeout_seconds)
        chosen = (
            needed if self.visibility_timeout_seconds is None else self.visibility_timeout_seconds
        )
        if chosen < needed:
            raise DeliverySettingsError(
                f"agent {self.manifest.name!r}: visibility_timeout_seconds={chosen} is less "
                f"than {VISIBILITY_TIMEOUT_FACTOR} x timeout_seconds ({self.timeout_seconds}) = "
                f"{needed}; "
                "a message would become visible again while a batch is still running and be "
                "handled twice. Raise the visibility timeout or lower the function timeout."
            )
        if chosen > MAX_VISIBILITY_TIMEOUT_SECONDS:
            raise DeliverySettingsError(
                f"agent {self.manifest.name!r}: visibility timeout {chosen} s exceeds SQS's "
                f"maximum {MAX_VISIBILITY_TIMEOUT_SECONDS} s; lower timeout_seconds"
            )
        if self.max_concurrency is not None and not 2 <= self.max_concurrency <= 1000:
            raise DeliverySettingsError(
                f"agent {self.manifest.name!r}: max_concurrency={self.max_concurrency} must be "
                "2..1000 (the event-source mapping's MaximumConcurrency)"
            )
        return chosen

    def concurrency(self) -> int:
        """The event-source mappings' `MaximumConcurrency`: as set, else the default."""
        return DEFAULT_MAX_CONCURRENCY if self.max_concurrency is None else self.max_concurrency

    def retains_queues(self) -> bool:
        """Whether the queues and DLQs outlive the stack (production stages, as the tables)."""
        return retains_data(self.stage) if self.retain_queues is None else self.retain_queues

    def event_log_writer(self) -> bool:
        """Whether this agent writes the events table (by kind, never by name: any agent may
        call itself `event-log`)."""
        if self.writes_event_log is not None:
            return self.writes_event_log
        return self.manifest.kind is AgentKind.PLATFORM


class AgentFunction(Construct):
    """One agent: for each subscribed topic a `SubscriptionQueue`, the rules of
    `soorma_common.routing.rules_for` targeting it (the DLQ as the rule's DLQ, with a retry
    policy), and an SQS event-source mapping (batch 10, ReportBatchItemFailures) into the
    agent's Lambda (Python 3.13 on Amazon Linux 2023, arm64, X-Ray active).

    The role may put events on the bus only as `soorma.<agent>` (and only its declared event
    types), consume only its queues, send only to its DLQs, read the registry, get/put/update/
    delete idempotency items, read/write memory items (no Scan), and write the events table if
    it is a platform agent. Its idempotency access is limited to its own claims
    (`dynamodb:LeadingKeys`, `permissions.idempotency_key_patterns`).

    Attributes: `function`, `role`, `log_group`, `queues` (topic -> SubscriptionQueue),
    `rules` (rule name -> Rule).
    """

    def __init__(self, scope: Construct, construct_id: str, props: AgentFunctionProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        manifest = props.manifest
        stage = props.stage
        visibility = Duration.seconds(props.visibility_timeout())
        function_name = naming.function_name(stage, manifest.name)

        self.role = lambda_role(self, f"Soorma agent {manifest.name} ({stage})")
        self.log_group = function_log_group(self, function_name, props.log_retention)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=manifest.description[:256] or f"Soorma agent {manifest.name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=manifest.handler,
            code=function_code(props.code_path),
            layers=list(props.layers),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=Duration.seconds(props.timeout_seconds),
            memory_size=props.memory_mib,
            environment=self._environment(),
        )
        self.log_group.grant_write(self.role)

        self.queues: dict[EventTopic, SubscriptionQueue] = {}
        for topic in manifest.topics():
            subscription = SubscriptionQueue(
                self,
                naming.logical_id(topic.value),
                stage=stage,
                agent=manifest.name,
                topic=topic,
                visibility_timeout=visibility,
                retain=props.retains_queues(),
            )
            self.queues[topic] = subscription
            self.function.add_event_source(
                sources.SqsEventSource(
                    subscription.queue,
                    batch_size=BATCH_SIZE,
                    report_batch_item_failures=True,
                    max_concurrency=props.concurrency(),
                )
            )
        self.rules: dict[str, events.Rule] = {
            spec.name: self._rule(spec) for spec in rules_for(manifest)
        }
        self._grant_access()
        self._acknowledge_findings()

    def _environment(self) -> dict[str, str]:
        props = self.props
        deadlines = props.deadlines.environment() if props.deadlines else {}
        return function_environment(
            stage=props.stage,
            agent=props.manifest.name,
            bus=props.bus.event_bus_name,
            tables={role: table.table_name for role, table in props.tables.items()},
            extra={**deadlines, **props.environment},
            llm_models=props.manifest.llm_models,
        )

    def _rule(self, spec: RuleSpec) -> events.Rule:
        subscription = self.queues[spec.topic]
        rule = events.Rule(
            self,
            naming.logical_id(spec.name, "rule"),
            event_bus=self.props.bus,
            rule_name=spec.name,
            description=f"{spec.topic.value} events for {self.props.manifest.name}",
            # Placeholder for the L2's validation; the exact pattern of `rules_for` replaces it.
            event_pattern=events.EventPattern(detail={"topic": [spec.topic.value]}),
            targets=[
                targets.SqsQueue(
                    subscription.queue,
                    dead_letter_queue=subscription.dead_letter_queue,
                    retry_attempts=RULE_MAX_RETRY_ATTEMPTS,
                    max_event_age=Duration.seconds(RULE_MAX_EVENT_AGE_SECONDS),
                )
            ],
        )
        cfn_rule = rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        cfn_rule.add_property_override("EventPattern", spec.pattern)
        return rule

    def _grant_access(self) -> None:
        props = self.props
        statement = put_events_statement(props.manifest, props.bus.event_bus_arn)
        if statement is not None:
            self.role.add_to_principal_policy(statement)
        if props.deadlines is not None:
            for statement in props.deadlines.agent_statements():
                self.role.add_to_principal_policy(statement)
            acknowledge(
                self.role.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:"
                f"<AWS::AccountId>:schedule/{props.deadlines.group_name}/"
                f"{naming.DEADLINE_SCHEDULE_PREFIX}*]",
                "one schedule per request deadline, named by the request: only the stage's "
                "group, only the soorma-timeout- prefix",
            )
        for bedrock in bedrock_invoke_statements(props.manifest.llm_models):
            self.role.add_to_principal_policy(bedrock)
        self._acknowledge_profile_routing()
        dead_letter_arns = [q.dead_letter_queue.queue_arn for q in self.queues.values()]
        if dead_letter_arns:
            self.role.add_to_principal_policy(dead_letter_send_statement(dead_letter_arns))
        access: dict[str, tuple[str, ...]] = {
            "idempotency": IDEMPOTENCY_ACTIONS,
            "memory": MEMORY_ACTIONS,
            "registry": REGISTRY_READ_ACTIONS,
        }
        if props.event_log_writer():
            access["events"] = TABLE_WRITE_ACTIONS
        own_claims = idempotency_key_patterns(props.stage, props.manifest.name)
        for role, actions in access.items():
            index_arn = self._index_arn(role) if TABLES[role].indexes else None
            self.role.add_to_principal_policy(
                table_statement(
                    naming.logical_id(role, "table", "access"),
                    props.tables[role].table_arn,
                    actions,
                    index_arn,
                    leading_keys=own_claims if role == "idempotency" else None,
                )
            )
            if index_arn:
                acknowledge(
                    self.role.node.find_child("DefaultPolicy"),
                    f"AwsSolutions-IAM5[Resource::{self._index_arn_in_findings(role)}]",
                    f"queries on the {role} table's own global secondary indexes",
                )

    def _acknowledge_profile_routing(self) -> None:
        for model in self.props.manifest.llm_models:
            underlying = profile_underlying(model)
            if underlying is None:
                continue
            acknowledge(
                self.role.node.find_child("DefaultPolicy"),
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/"
                f"{underlying}]",
                f"the cross-Region inference profile {model} routes to {underlying} in Regions "
                "AWS picks; usable only through that profile (bedrock:InferenceProfileArn)",
            )

    def _index_arn(self, role: str) -> str:
        return Stack.of(self).format_arn(
            service="dynamodb",
            resource="table",
            resource_name=f"{naming.table_name(self.props.stage, role)}/index/*",
        )

    def _index_arn_in_findings(self, role: str) -> str:
        # How cdk-nag prints the `format_arn` above in a finding id.
        name = naming.table_name(self.props.stage, role)
        return f"arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/{name}/index/*"

    def _acknowledge_findings(self) -> None:
        acknowledge_runtime(self.function, RUNTIME.name)
        acknowledge_tracing(self.role.node.find_child("DefaultPolicy"))
