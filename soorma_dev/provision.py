"""Creating the platform's AWS resources from manifests through boto3 (moto, `soorma dev`).

Same names (`soorma_common.naming`), same rule patterns (`soorma_common.routing.rules_for`), same
queue settings as the CDK stack (`infra/`), so that the local cloud is a faithful copy.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from soorma_common import naming
from soorma_common.delivery import (
    DEFAULT_FUNCTION_TIMEOUT_SECONDS,
    DLQ_RETENTION_SECONDS,
    MAX_RECEIVE_COUNT,
    RULE_MAX_EVENT_AGE_SECONDS,
    RULE_MAX_RETRY_ATTEMPTS,
    TTL_ATTRIBUTE,
    visibility_timeout_for,
)
from soorma_common.environment import DEADLINE_ROLE_ARN, EVENT_BUS_ARN, function_environment
from soorma_common.manifest import AgentManifest
from soorma_common.routing import rules_for
from soorma_common.tables import TABLES
from soorma_common.topics import EventTopic


@dataclass
class AgentQueues:
    """One agent's queues: topic -> (queue url, queue arn, dlq url)."""

    agent: str
    queues: dict[EventTopic, tuple[str, str, str]] = field(default_factory=dict)


@dataclass
class Platform:
    """What `provision` created: the bus, table names and every agent's queues."""

    stage: str
    bus_name: str
    tables: dict[str, str]
    agents: dict[str, AgentQueues]
    #: The bus's ARN and the role Scheduler puts timeout replies with (request deadlines).
    bus_arn: str = ""
    deadline_role_arn: str = ""

    def environment(self, agent: str, llm_models: Sequence[str] = ()) -> dict[str, str]:
        """The environment an agent's function gets: `soorma_common.environment.
        function_environment`, as on Lambda (`llm_models`: the manifest's, whose first is the
        agent's `SOORMA_LLM_MODEL_ID`, as the CDK stack sets it)."""
        deadlines = {EVENT_BUS_ARN: self.bus_arn, DEADLINE_ROLE_ARN: self.deadline_role_arn}
        return function_environment(
            stage=self.stage,
            agent=agent,
            bus=self.bus_name,
            tables=self.tables,
            extra={k: v for k, v in deadlines.items() if v},
            llm_models=llm_models,
        )


def create_table(dynamodb: Any, name: str, role: str) -> None:
    """Create one table from its `TableSpec` (on-demand, TTL on `TTL_ATTRIBUTE`) unless it
    exists."""
    spec = TABLES[role]
    key_names = [spec.partition_key, spec.sort_key]
    for index in spec.indexes:
        key_names += [index.partition_key, index.sort_key]
    attributes = [
        {"AttributeName": n, "AttributeType": "S"} for n in dict.fromkeys(k for k in key_names if k)
    ]
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": _key_schema(spec.partition_key, spec.sort_key),
        "AttributeDefinitions": attributes,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.partition_key, index.sort_key),
                "Projection": index.projection(),
            }
            for index in spec.indexes
        ]
    try:
        dynamodb.create_table(**request)
    except dynamodb.exceptions.ResourceInUseException:
        return
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def _key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": partition, "KeyType": "HASH"}]
    if sort:
        keys.append({"AttributeName": sort, "KeyType": "RANGE"})
    return keys


def provision(
    manifests: list[AgentManifest],
    *,
    stage: str = "dev",
    session: Any = None,
    visibility_timeout_seconds: int = visibility_timeout_for(DEFAULT_FUNCTION_TIMEOUT_SECONDS),
    register: bool = True,
) -> Platform:
    """Create the bus, the tables, and per agent per topic a queue, its DLQ and its rules; then
    write the manifests' events and agents to the registry, as the stack's registry sync does at
    deploy (`register=False` leaves the registry empty)."""
    import boto3

    session = session or boto3.session.Session()
    events = session.client("events")
    sqs = session.client("sqs")
    dynamodb = session.client("dynamodb")

    bus = naming.bus_name(stage)
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus)
    bus_arn = str(events.describe_event_bus(Name=bus)["Arn"])
    account = bus_arn.split(":")[4]
    tables = {role: naming.table_name(stage, role) for role in naming.TABLE_ROLES}
    for role, name in tables.items():
        create_table(dynamodb, name, role)

    platform = Platform(
        stage=stage,
        bus_name=bus,
        tables=tables,
        agents={},
        bus_arn=bus_arn,
        deadline_role_arn=f"arn:aws:iam::{account}:role/{naming.deadline_role_name(stage)}",
    )
    for manifest in manifests:
        platform.agents[manifest.name] = _provision_agent(
            manifest, stage, bus, events, sqs, visibility_timeout_seconds
        )
    if register:
        from soorma.registry.sync import sync_registry

        sync_registry(tables["registry"], manifests, dynamodb=dynamodb)
    return platform


def _provision_agent(
    manifest: AgentManifest, stage: str, bus: str, events: Any, sqs: Any, visibility: int
) -> AgentQueues:
    queues = AgentQueues(agent=manifest.name)
    for topic in manifest.topics():
        name = naming.queue_name(stage, manifest.name, topic)
        dlq_url = sqs.create_queue(
            QueueName=naming.dead_letter_queue_name(name),
            Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        url = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(visibility),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queues.queues[topic] = (url, arn, dlq_url)
    for rule in rules_for(manifest):
        _, queue_arn, dlq_url = queues.queues[rule.topic]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name=rule.name, EventBusName=bus, EventPattern=json.dumps(rule.pattern))
        events.put_targets(
            Rule=rule.name,
            EventBusName=bus,
            Targets=[
                {
                    "Id": "queue",
                    "Arn": queue_arn,
                    "DeadLetterConfig": {"Arn": dlq_arn},
                    "RetryPolicy": {
                        "MaximumRetryAttempts": RULE_MAX_RETRY_ATTEMPTS,
                        "MaximumEventAgeInSeconds": RULE_MAX_EVENT_AGE_SECONDS,
                    },
                }
            ],
        )
    return queues
