"""Parity: the local cloud's live resources are the ones the CDK app synthesizes.

One small app (the order fan-out agents, the conditional router and the platform's event log,
copied into one functions folder) is synthesized once with the real CDK app (`infra.build_app`)
and started once as a local cloud from the same folders and stage. Then, resource by resource:
rule names and event patterns (`describe_rule` vs `AWS::Events::Rule`), rule targets with their
DLQ and retry policy (`list_targets_by_rule`), queues and their redrive wiring, retention and
visibility timeout (`get_queue_attributes` vs `AWS::SQS::Queue`; the local visibility timeout is
the synthesized one scaled by the local cloud's `time_scale`), and the tables' keys and TTL.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from soorma_common import naming

REPO = Path(__file__).resolve().parents[2]
STAGE = "parity"
TIME_SCALE = 0.1
#: The agents of the small app: a Worker with a replies rule, a Tool, an `"*"` subscriber, an
#: agent with declared events, and the platform's event log (all 8 topics).
AGENT_FOLDERS = [
    REPO / "examples" / "order-fanout" / "inventory",
    REPO / "examples" / "order-fanout" / "warehouse",
    REPO / "examples" / "order-fanout" / "audit-log",
    REPO / "examples" / "order-fanout" / "notifier",
    REPO / "examples" / "conditional-routing" / "order-router",
    REPO / "functions" / "event_log",
]


@dataclass
class Synthesized:
    """What the CDK app declares, read with `Template.find_resources` (root + nested stacks)."""

    rules: dict[str, dict[str, Any]]  # rule name -> properties
    queues: dict[str, dict[str, Any]]  # queue name -> properties
    tables: dict[str, dict[str, Any]]  # table name -> properties
    #: resource name -> (logical id -> queue name) of the template that declares it: logical
    #: ids are unique only within one (nested) stack.
    scopes: dict[str, dict[str, str]]

    def queue_of_arn(self, resource: str, arn: Any) -> str:
        """The queue name that `{"Fn::GetAtt": [logical id, "Arn"]}` in `resource` points at."""
        logical_id, attribute = arn["Fn::GetAtt"]
        assert attribute == "Arn"
        return self.scopes[resource][logical_id]


@pytest.fixture(scope="module")
def functions_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parity") / "functions"
    for folder in AGENT_FOLDERS:
        shutil.copytree(folder, root / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def synthesized(functions_root: Path) -> Synthesized:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra import build_app

    _app, stack = build_app(
        functions_root=functions_root,
        stage=STAGE,
        app=App(outdir=str(functions_root.parent / "cdk.out")),
        nag=False,
    )
    templates = [Template.from_stack(stack)]
    templates += [Template.from_stack(agent) for agent in stack.agents.values()]
    found = Synthesized(rules={}, queues={}, tables={}, scopes={})
    for template in templates:
        queue_names = {
            logical_id: resource["Properties"]["QueueName"]
            for logical_id, resource in template.find_resources("AWS::SQS::Queue").items()
        }
        for resource in template.find_resources("AWS::Events::Rule").values():
            found.rules[resource["Properties"]["Name"]] = resource["Properties"]
            found.scopes[resource["Properties"]["Name"]] = queue_names
        for resource in template.find_resources("AWS::SQS::Queue").values():
            found.queues[resource["Properties"]["QueueName"]] = resource["Properties"]
            found.scopes[resource["Properties"]["QueueName"]] = queue_names
        for resource in template.find_resources("AWS::DynamoDB::Table").values():
            found.tables[resource["Properties"]["TableName"]] = resource["Properties"]
    return found


@pytest.fixture(scope="module")
def local(functions_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from soorma_dev.localcloud import LocalCloud

    folders = sorted(p for p in functions_root.iterdir() if p.is_dir())
    cloud = LocalCloud(
        folders,
        stage=STAGE,
        time_scale=TIME_SCALE,
        include_platform=False,  # the event log is one of the folders, as in the CDK app
        state_dir=tmp_path_factory.mktemp("parity-state") / ".soorma",
    )
    with cloud:
        yield cloud


def live_rules(cloud: Any) -> dict[str, dict[str, Any]]:
    events = cloud.client("events")
    bus = naming.bus_name(STAGE)
    names = [
        rule["Name"]
        for page in events.get_paginator("list_rules").paginate(EventBusName=bus)
        for rule in page["Rules"]
    ]
    return {name: events.describe_rule(Name=name, EventBusName=bus) for name in names}


def live_queues(cloud: Any) -> dict[str, dict[str, str]]:
    sqs = cloud.client("sqs")
    prefix = f"soorma-{STAGE}-"
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return {
        url.rsplit("/", 1)[-1]: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        for url in urls
    }


# ---- rules -----------------------------------------------------------------------------------


def test_the_same_rules_exist(synthesized: Synthesized, local: Any) -> None:
    assert sorted(live_rules(local)) == sorted(synthesized.rules)
    assert len(synthesized.rules) >= 10  # 6 agents, the event log alone has 8


def test_rules_have_the_same_event_patterns(synthesized: Synthesized, local: Any) -> None:
    for name, rule in live_rules(local).items():
        assert json.loads(rule["EventPattern"]) == synthesized.rules[name]["EventPattern"], name
        assert rule["State"] == synthesized.rules[name].get("State", "ENABLED")


def test_rules_target_the_same_queue_with_the_same_dlq_and_retries(
    synthesized: Synthesized, local: Any
) -> None:
    events = local.client("events")
    for name, declared in synthesized.rules.items():
        (expected,) = declared["Targets"]
        (target,) = events.list_targets_by_rule(Rule=name, EventBusName=naming.bus_name(STAGE))[
            "Targets"
        ]
        queue = synthesized.queue_of_arn(name, expected["Arn"])
        dead_letter_queue = synthesized.queue_of_arn(name, expected["DeadLetterConfig"]["Arn"])
        assert naming.queue_name_from_arn(target["Arn"]) == queue, name
        assert naming.queue_name_from_arn(target["DeadLetterConfig"]["Arn"]) == dead_letter_queue
        assert target["RetryPolicy"] == expected["RetryPolicy"], name


# ---- queues ----------------------------------------------------------------------------------


def test_the_same_queues_exist(synthesized: Synthesized, local: Any) -> None:
    assert sorted(live_queues(local)) == sorted(synthesized.queues)


def test_queues_redrive_to_the_same_dlq_after_the_same_receives(
    synthesized: Synthesized, local: Any
) -> None:
    live = live_queues(local)
    wired = 0
    for name, declared in synthesized.queues.items():
        policy = declared.get("RedrivePolicy")
        if policy is None:
            assert "RedrivePolicy" not in live[name], f"{name} is a DLQ: it redrives nowhere"
            continue
        actual = json.loads(live[name]["RedrivePolicy"])
        dead_letter_queue = synthesized.queue_of_arn(name, policy["deadLetterTargetArn"])
        assert naming.queue_name_from_arn(actual["deadLetterTargetArn"]) == dead_letter_queue
        assert int(actual["maxReceiveCount"]) == int(policy["maxReceiveCount"])
        assert naming.dead_letter_queue_name(name) == naming.queue_name_from_arn(
            actual["deadLetterTargetArn"]
        )
        wired += 1
    assert wired == len(synthesized.queues) // 2


def test_queues_keep_messages_as_long(synthesized: Synthesized, local: Any) -> None:
    live = live_queues(local)
    for name, declared in synthesized.queues.items():
        expected = declared.get("MessageRetentionPeriod", 345_600)  # the SQS default: 4 days
        assert int(live[name]["MessageRetentionPeriod"]) == expected, name


def test_visibility_timeouts_are_the_synthesized_ones_scaled(
    synthesized: Synthesized, local: Any
) -> None:
    live = live_queues(local)
    for name, declared in synthesized.queues.items():
        if "RedrivePolicy" not in declared:
            continue  # DLQs are never received from by a function
        expected = max(1, round(declared["VisibilityTimeout"] * TIME_SCALE))
        assert int(live[name]["VisibilityTimeout"]) == expected, name


# ---- tables ----------------------------------------------------------------------------------


def test_tables_have_the_same_keys_indexes_and_ttl(synthesized: Synthesized, local: Any) -> None:
    dynamodb = local.client("dynamodb")
    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(synthesized.tables)
    for name, declared in synthesized.tables.items():
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == declared["KeySchema"], name
        live_indexes = {
            index["IndexName"]: index["KeySchema"]
            for index in table.get("GlobalSecondaryIndexes", [])
        }
        declared_indexes = {
            index["IndexName"]: index["KeySchema"]
            for index in declared.get("GlobalSecondaryIndexes", [])
        }
        assert live_indexes == declared_indexes, name
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl.get("AttributeName") == declared["TimeToLiveSpecification"]["AttributeName"]
