"""The stage stack for a two-agent app: delivery path, tables, IAM, alarms, cdk-nag, cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from infra.agent_function import DEFAULT_MAX_CONCURRENCY
from infra.nag import Acknowledgment, acknowledgments
from soorma_common import naming
from soorma_common.delivery import (
    BATCH_SIZE,
    DLQ_RETENTION_SECONDS,
    MAX_RECEIVE_COUNT,
    RULE_MAX_EVENT_AGE_SECONDS,
    RULE_MAX_RETRY_ATTEMPTS,
    TTL_ATTRIBUTE,
)
from soorma_common.environment import function_environment
from soorma_common.routing import NOT_A_REPLY, pattern_matches, rules_for
from soorma_common.tables import TABLES
from soorma_common.topics import EventTopic
from tests.infra.agent_folders import write_two_agents
from tests.infra.synth import Synthesized, resources, synthesize

STAGE = "dev"
ORDER = "order-processor"
LOG = "event-log"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    root = write_two_agents(tmp_path_factory.mktemp("functions"))
    return synthesize(root, tmp_path_factory.mktemp("cdk.out"), stage=STAGE)


@pytest.fixture(scope="module")
def changed_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    root = write_two_agents(tmp_path_factory.mktemp("functions"), changed=True)
    return synthesize(root, tmp_path_factory.mktemp("cdk.out"), stage=STAGE)


def manifest_of(app: Synthesized, name: str) -> Any:
    return next(m for m in app.stack.manifests if m.name == name)


def by_name(template: dict[str, Any], kind: str, name_key: str) -> dict[str, dict[str, Any]]:
    return {r["Properties"][name_key]: r["Properties"] for r in resources(template, kind).values()}


def logical_id_of(template: dict[str, Any], kind: str, name_key: str, name: str) -> str:
    return next(
        k for k, r in resources(template, kind).items() if r["Properties"].get(name_key) == name
    )


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        found += policy["Properties"]["PolicyDocument"]["Statement"]
    for role in resources(template, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


# ---- discovery ------------------------------------------------------------------------------


def test_only_folders_defining_an_agent_become_agents(app: Synthesized) -> None:
    assert sorted(app.stack.agents) == [LOG, ORDER]
    assert len(resources(app.root, "AWS::CloudFormation::Stack")) == 2


def test_registry_sync_runs_on_deploy_with_every_manifest(app: Synthesized) -> None:
    (sync,) = resources(app.root, "Custom::SoormaRegistrySync").values()
    manifests = json.loads(sync["Properties"]["Manifests"])
    assert [m["name"] for m in manifests] == sorted([LOG, ORDER])
    registry = logical_id_of(
        app.root, "AWS::DynamoDB::Table", "TableName", naming.table_name(STAGE, "registry")
    )
    assert sync["Properties"]["TableName"] == {"Ref": registry}


# ---- platform -------------------------------------------------------------------------------


def test_bus_and_archive(app: Synthesized) -> None:
    (bus,) = resources(app.root, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == naming.bus_name(STAGE)
    (archive,) = resources(app.root, "AWS::Events::Archive").values()
    assert archive["Properties"]["ArchiveName"] == naming.archive_name(STAGE)
    assert archive["Properties"]["RetentionDays"] == 30
    # Every event, external producers' too (issue 10: the archive kept only `soorma.*` sources).
    pattern = archive["Properties"]["EventPattern"]
    assert pattern == {"source": [{"exists": True}]}
    external = {"source": "com.example.shop", "detail-type": "order.placed", "detail": {}}
    assert pattern_matches(pattern, external)
    assert EventPattern(json.dumps(pattern), pattern).matches_event(external)


def test_tables_keys_pitr_ttl_and_on_demand(app: Synthesized) -> None:
    tables = by_name(app.root, "AWS::DynamoDB::Table", "TableName")
    assert sorted(tables) == sorted(naming.table_name(STAGE, role) for role in TABLES)
    for role, spec in TABLES.items():
        table = tables[naming.table_name(STAGE, role)]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        assert keys == {
            "HASH": spec.partition_key,
            **({"RANGE": spec.sort_key} if spec.sort_key else {}),
        }
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
        indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
        assert sorted(indexes) == sorted(i.name for i in spec.indexes)
    assert TABLES["idempotency"].partition_key == "id"


def test_dev_tables_are_deleted_with_the_stack(app: Synthesized) -> None:
    for table in resources(app.root, "AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Delete"
    for template in app.nested.values():
        for queue in resources(template, "AWS::SQS::Queue").values():
            assert queue["DeletionPolicy"] == "Delete"


def test_layers_common_asset_and_pinned_powertools(app: Synthesized) -> None:
    (layer,) = resources(app.root, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    asset = app.outdir / f"asset.{asset_hash}"
    assert (asset / "python" / "soorma_common" / "naming.py").is_file()
    assert (asset / "python" / "soorma" / "runtime" / "handler.py").is_file()
    assert not list(asset.rglob("__pycache__"))
    for template in app.nested.values():
        (function,) = resources(template, "AWS::Lambda::Function").values()
        powertools = function["Properties"]["Layers"][0]
        assert powertools == (
            "{{resolve:ssm:/aws/service/powertools/python/arm64/python3.13/3.37.0}}"
        )


# ---- one agent's delivery path -------------------------------------------------------------


@pytest.mark.parametrize("agent", [ORDER, LOG])
def test_a_queue_and_a_dlq_per_subscribed_topic(app: Synthesized, agent: str) -> None:
    template = app.nested[agent]
    queues = by_name(template, "AWS::SQS::Queue", "QueueName")
    topics = manifest_of(app, agent).topics()
    expected = {naming.queue_name(STAGE, agent, t) for t in topics}
    assert set(queues) == expected | {naming.dead_letter_queue_name(q) for q in expected}
    for name in expected:
        queue, dlq = queues[name], queues[naming.dead_letter_queue_name(name)]
        assert queue["VisibilityTimeout"] == 6 * 30
        assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
        dlq_id = logical_id_of(template, "AWS::SQS::Queue", "QueueName", dlq["QueueName"])
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
        assert dlq["MessageRetentionPeriod"] == DLQ_RETENTION_SECONDS
        assert queue["SqsManagedSseEnabled"] is True and dlq["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in queue


@pytest.mark.parametrize("agent", [ORDER, LOG])
def test_rules_have_the_exact_patterns_of_rules_for(app: Synthesized, agent: str) -> None:
    template = app.nested[agent]
    rules = by_name(template, "AWS::Events::Rule", "Name")
    specs = rules_for(manifest_of(app, agent))
    assert sorted(rules) == [s.name for s in specs]
    for spec in specs:
        rule = rules[spec.name]
        assert rule["EventPattern"] == spec.pattern
        (target,) = rule["Targets"]
        queue = naming.queue_name(STAGE, agent, spec.topic)
        queue_id = logical_id_of(template, "AWS::SQS::Queue", "QueueName", queue)
        dlq_id = logical_id_of(
            template, "AWS::SQS::Queue", "QueueName", naming.dead_letter_queue_name(queue)
        )
        assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": RULE_MAX_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": RULE_MAX_EVENT_AGE_SECONDS,
        }


def test_order_processor_patterns_spelled_out(app: Synthesized) -> None:
    rules = by_name(app.nested[ORDER], "AWS::Events::Rule", "Name")
    # `order.*` skips the agent's own events; its exact `order.placed` takes only its own (the
    # prefix rule brings everyone else's): disjoint rules, each event delivered once.
    assert rules["order-processor-business-facts"]["EventPattern"] == {
        "detail": {"topic": ["business-facts"], **NOT_A_REPLY},
        "source": ["soorma.order-processor"],
        "detail-type": ["order.placed"],
    }
    assert rules["order-processor-business-facts-2"]["EventPattern"] == {
        "detail": {"topic": ["business-facts"], **NOT_A_REPLY},
        "source": [{"anything-but": ["soorma.order-processor"]}],
        "detail-type": [{"prefix": "order."}],
    }
    assert rules["order-processor-action-results-replies"]["EventPattern"] == {
        "detail": {
            "topic": ["action-results"],
            "replyto": ["order-processor"],
            "responseevent": [{"exists": False}],
        }
    }
    assert rules["order-processor-action-requests"]["EventPattern"] == {
        "detail": {"topic": ["action-requests"]},  # requests only: no reply condition
        "detail-type": ["order.check"],
    }
    log_rules = by_name(app.nested[LOG], "AWS::Events::Rule", "Name")
    assert log_rules["event-log-plan-events"]["EventPattern"] == {
        "detail": {"topic": ["plan-events"]}
    }


@pytest.mark.parametrize("agent", [ORDER, LOG])
def test_event_source_mappings(app: Synthesized, agent: str) -> None:
    template = app.nested[agent]
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(manifest_of(app, agent).topics())
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["BatchSize"] == BATCH_SIZE
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # A cap by default (issue 10: unset), never reserved concurrency.
        assert props["ScalingConfig"] == {"MaximumConcurrency": DEFAULT_MAX_CONCURRENCY}
    (function,) = resources(template, "AWS::Lambda::Function").values()
    assert "ReservedConcurrentExecutions" not in function["Properties"]


@pytest.mark.parametrize("agent", [ORDER, LOG])
def test_queue_policies_tls_only_and_eventbridge_from_its_own_rule(
    app: Synthesized, agent: str
) -> None:
    template = app.nested[agent]
    # queue or DLQ logical id -> the rules that send to it (as target, or as the target's DLQ)
    senders: dict[str, set[str]] = {}
    for rule_id, rule in resources(template, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            senders.setdefault(target["Arn"]["Fn::GetAtt"][0], set()).add(rule_id)
            dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
            senders.setdefault(dlq, set()).add(rule_id)
    policies = list(resources(template, "AWS::SQS::QueuePolicy").values())
    queue_ids = set(resources(template, "AWS::SQS::Queue"))
    assert {p["Properties"]["Queues"][0]["Ref"] for p in policies} == queue_ids
    assert set(senders) == queue_ids  # every queue and DLQ is fed by some rule of the agent
    for policy in policies:
        (queue_id,) = [q["Ref"] for q in policy["Properties"]["Queues"]]
        statements_ = policy["Properties"]["PolicyDocument"]["Statement"]
        deny = [s for s in statements_ if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        allows = [s for s in statements_ if s["Effect"] == "Allow"]
        for allow in allows:
            assert allow["Principal"] == {"Service": "events.amazonaws.com"}
            assert allow["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        allowed = {a["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][0] for a in allows}
        assert allowed == senders[queue_id], queue_id  # exactly the rules that target it


def test_agent_stacks_wait_for_the_registry_sync(app: Synthesized) -> None:
    (sync_id,) = resources(app.root, "Custom::SoormaRegistrySync")
    nested = resources(app.root, "AWS::CloudFormation::Stack")
    assert len(nested) == 2
    for stack in nested.values():
        assert sync_id in stack["DependsOn"]


# ---- the function and its permissions ------------------------------------------------------


def test_function_settings_and_environment(app: Synthesized) -> None:
    (function,) = resources(app.nested[ORDER], "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["FunctionName"] == naming.function_name(STAGE, ORDER)
    assert props["Runtime"] == "python3.13" and props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Timeout"] == 30 and props["MemorySize"] == 512
    env = props["Environment"]["Variables"]
    assert env["SOORMA_STAGE"] == STAGE
    assert env["POWERTOOLS_SERVICE_NAME"] == ORDER
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Soorma"
    for variable in (
        "SOORMA_EVENT_BUS",
        "SOORMA_EVENTS_TABLE",
        "SOORMA_IDEMPOTENCY_TABLE",
        "SOORMA_REGISTRY_TABLE",
        "SOORMA_MEMORY_TABLE",
    ):
        assert "Ref" in env[variable]  # wired to the platform's resources
    # the one function the local cloud and the moto harness call too
    spelled = function_environment(
        stage=STAGE, agent=ORDER, bus="bus", tables={r: r for r in naming.TABLE_ROLES}
    )
    deadlines = {"SOORMA_EVENT_BUS_ARN", "SOORMA_DEADLINE_ROLE_ARN", "SOORMA_SCHEDULE_GROUP"}
    assert set(env) == set(spelled) | deadlines  # request deadlines: the stack's Scheduler role
    assert env["SOORMA_SCHEDULE_GROUP"] == f"soorma-{STAGE}"


def test_every_put_events_statement_is_conditioned_on_the_agents_source(app: Synthesized) -> None:
    checked = 0
    for template in app.templates():
        for statement in statements(template):
            if not any(a in ("events:PutEvents", "events:*", "*") for a in actions_of(statement)):
                continue
            condition = statement["Condition"]["StringEquals"]
            if statement.get("Sid") == "PutTimeoutRepliesAsThePlatform":  # Scheduler's role
                assert condition == {"events:source": "soorma.platform"}
                continue
            if statement.get("Sid") == "ReportStalledWorkflowsAsThePlatform":  # the stall sweep
                assert condition == {
                    "events:source": "soorma.platform",
                    "events:detail-type": "workflow.stalled",
                }
                continue
            checked += 1
            assert condition["events:source"] == naming.event_source(ORDER)
            assert sorted(condition["events:detail-type"]) == [
                naming.LOOP_DETECTED_EVENT,  # the runtime's own notice, for every agent
                "inventory.reserve",
                "order.checked",
            ]
    # order-processor publishes; event-log declared events_produced=[] and may not publish
    assert checked == 1


def test_each_role_reaches_only_its_own_idempotency_claims(app: Synthesized) -> None:
    """Issue 10: every role could rewrite any agent's completed claim (and so make it re-publish
    a forged outbox). Now `dynamodb:LeadingKeys` limits each to keys `<its function name>.*`."""
    for agent, template in app.nested.items():
        [claims] = [
            s for s in statements(template) if "IdempotencyTable" in json.dumps(s["Resource"])
        ]
        assert claims["Condition"] == {
            "ForAllValues:StringLike": {
                "dynamodb:LeadingKeys": [
                    f"{naming.function_name(STAGE, agent)}.*",
                    naming.pending_request_key(agent, "*"),
                ]
            }
        }


def test_roles_touch_only_their_own_queues_and_the_tables_they_need(app: Synthesized) -> None:
    for agent, template in app.nested.items():
        own_queues = set(resources(template, "AWS::SQS::Queue"))
        table_access: dict[str, set[str]] = {}
        for statement in statements(template):
            resources_ = statement["Resource"]
            resources_ = resources_ if isinstance(resources_, list) else [resources_]
            if any(a.startswith("sqs:") for a in actions_of(statement)):
                for resource in resources_:
                    assert resource["Fn::GetAtt"][0] in own_queues
            if any(a.startswith("dynamodb:") for a in actions_of(statement)):
                ref = json.dumps(resources_[0])
                role = next(r for r in TABLES if r.capitalize() + "Table" in ref)
                table_access[role] = set(actions_of(statement))
        assert table_access["idempotency"] == {
            f"dynamodb:{a}" for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")
        }
        assert table_access["memory"] == {
            f"dynamodb:{a}"
            for a in (
                "BatchGetItem",
                "BatchWriteItem",
                "ConditionCheckItem",
                "DeleteItem",
                "DescribeTable",
                "GetItem",
                "PutItem",
                "Query",
                "UpdateItem",
            )
        }  # no Scan: whole-table reads are the admin deletion path's
        assert table_access["registry"] == {
            f"dynamodb:{a}"
            for a in (
                "BatchGetItem",
                "ConditionCheckItem",
                "DescribeTable",
                "GetItem",
                "Query",
                "Scan",
            )
        }
        if agent == LOG:  # kind="platform"
            assert table_access["events"] == {
                f"dynamodb:{a}"
                for a in ("BatchWriteItem", "DeleteItem", "DescribeTable", "PutItem", "UpdateItem")
            }
        else:
            assert "events" not in table_access


def test_runtime_may_send_to_its_own_dlqs(app: Synthesized) -> None:
    template = app.nested[ORDER]
    dlq_ids = {
        k
        for k, q in resources(template, "AWS::SQS::Queue").items()
        if q["Properties"]["QueueName"].endswith("-dlq")
    }
    (send,) = [
        s
        for s in statements(template)
        if s.get("Sid") == "SendPermanentFailuresToOwnDeadLetterQueues"
    ]
    assert set(actions_of(send)) == {"sqs:GetQueueUrl", "sqs:SendMessage"}
    assert {r["Fn::GetAtt"][0] for r in send["Resource"]} == dlq_ids


# ---- operations ----------------------------------------------------------------------------


@pytest.mark.parametrize("agent", [ORDER, LOG])
def test_an_alarm_on_every_dlq_and_on_function_errors(app: Synthesized, agent: str) -> None:
    template = app.nested[agent]
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    dlqs = [
        q["Properties"]["QueueName"]
        for q in resources(template, "AWS::SQS::Queue").values()
        if q["Properties"]["QueueName"].endswith("-dlq")
    ]
    depth = [
        a["Properties"]
        for a in alarms.values()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(depth) == len(dlqs)
    for alarm in depth:
        assert alarm["Threshold"] == 0
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    errors = [a["Properties"] for a in alarms.values() if a["Properties"]["MetricName"] == "Errors"]
    assert len(errors) == 1 and errors[0]["Namespace"] == "AWS/Lambda"


def test_one_dashboard_naming_every_agent(app: Synthesized) -> None:
    (dashboard,) = resources(app.root, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"soorma-{STAGE}"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for agent in (ORDER, LOG):
        assert naming.function_name(STAGE, agent) in body
        assert naming.queue_name(STAGE, agent, EventTopic.ACTION_REQUESTS) in body
    for nested in app.nested.values():
        assert not resources(nested, "AWS::CloudWatch::Dashboard")


# ---- a manifest change ---------------------------------------------------------------------


def test_a_new_subscription_changes_the_template_as_expected(
    app: Synthesized, changed_app: Synthesized
) -> None:
    before, after = app.nested[ORDER], changed_app.nested[ORDER]
    old_rules = by_name(before, "AWS::Events::Rule", "Name")
    new_rules = by_name(after, "AWS::Events::Rule", "Name")
    assert set(new_rules) - set(old_rules) == {
        "order-processor-notification-events",
        "order-processor-business-facts-3",  # the rules of a topic are numbered in order
    }
    assert new_rules["order-processor-notification-events"]["EventPattern"] == {
        "detail": {"topic": ["notification-events"], **NOT_A_REPLY},
        "detail-type": ["customer.notified"],
    }
    facts = [
        new_rules[f"order-processor-business-facts{n}"]["EventPattern"] for n in ("", "-2", "-3")
    ]
    assert [p["detail-type"] for p in facts] == [
        ["payment.received"],
        ["order.placed"],
        [{"prefix": "order."}],
    ]
    new_queues = set(by_name(after, "AWS::SQS::Queue", "QueueName")) - set(
        by_name(before, "AWS::SQS::Queue", "QueueName")
    )
    queue = naming.queue_name(STAGE, ORDER, EventTopic.NOTIFICATION_EVENTS)
    assert new_queues == {queue, naming.dead_letter_queue_name(queue)}
    grow = {
        kind: len(resources(after, kind)) - len(resources(before, kind))
        for kind in (
            "AWS::Lambda::EventSourceMapping",
            "AWS::CloudWatch::Alarm",
            "AWS::SQS::QueuePolicy",
        )
    }
    assert grow == {
        "AWS::Lambda::EventSourceMapping": 1,
        "AWS::CloudWatch::Alarm": 1,
        "AWS::SQS::QueuePolicy": 2,
    }
    assert app.nested[LOG] == changed_app.nested[LOG]


# ---- checks ----------------------------------------------------------------------------------


def test_cdk_nag_reports_no_unacknowledged_finding(app: Synthesized) -> None:
    # synth raises on any unacknowledged finding; the written report must be empty too
    report = json.loads((app.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_cdk_nag_acknowledgments_are_exactly_these(app: Synthesized) -> None:
    runtime = (
        "python3.13 is the runtime the soorma_common layer and the pinned Powertools layer "
        "are built and tested for"
    )
    xray = (
        "X-Ray PutTraceSegments/PutTelemetryRecords (tracing ACTIVE) support no resource-level "
        "permissions"
    )
    memory_indexes = "queries on the memory table's own global secondary indexes"
    index_rule = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:"
        f"<AWS::AccountId>:table/{naming.table_name(STAGE, 'memory')}/index/*]"
    )
    deadlines = (
        "one schedule per request deadline, named by the request: only the stage's group, only "
        "the soorma-timeout- prefix"
    )
    deadline_rule = (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:"
        f"<AWS::AccountId>:schedule/soorma-{STAGE}/soorma-timeout-*]"
    )
    expected = []
    for agent in (ORDER, LOG):
        base = f"soorma-{STAGE}/{naming.logical_id(agent, 'agent')}/Agent"
        expected += [
            Acknowledgment("AwsSolutions-L1", f"{base}/Function", runtime),
            Acknowledgment("AwsSolutions-IAM5[Resource::*]", f"{base}/Role/DefaultPolicy", xray),
            Acknowledgment(index_rule, f"{base}/Role/DefaultPolicy", memory_indexes),
            Acknowledgment(deadline_rule, f"{base}/Role/DefaultPolicy", deadlines),
        ]
    expected.append(
        Acknowledgment("AwsSolutions-L1", f"soorma-{STAGE}/RegistrySync/Function", runtime)
    )
    expected.append(
        Acknowledgment("AwsSolutions-L1", f"soorma-{STAGE}/StallSweep/Function", runtime)
    )
    assert acknowledgments(app.app) == sorted(expected)


def test_cfn_lint_passes_on_every_template(app: Synthesized) -> None:
    files = [str(p) for p in app.template_files()]
    assert len(files) == 3
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "-i", "W3005", "--", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_cdk_assets_have_no_bytecode(app: Synthesized) -> None:
    for function in (app.stack.agents[a].agent for a in app.stack.agents):
        assert Path(function.props.code_path).is_dir()
    for asset in app.outdir.glob("asset.*"):
        assert not list(asset.rglob("*.pyc"))


# ---- the stall sweep (issue 15) -----------------------------------------------------------


def test_a_rate_schedule_invokes_the_stall_sweep_with_its_threshold(app: Synthesized) -> None:
    [schedule] = resources(app.root, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    function_id = logical_id_of(
        app.root, "AWS::Lambda::Function", "FunctionName", f"soorma-{STAGE}-stall-sweep"
    )
    assert props["Name"] == f"soorma-{STAGE}-stall-sweep"
    assert props["GroupName"] == f"soorma-{STAGE}"
    assert props["ScheduleExpression"] == "rate(5 minutes)"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert props["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert json.loads(props["Target"]["Input"]) == {"stalled_after_seconds": 900}
    assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    [invoke_config] = resources(app.root, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 0  # the next sweep retries
    [group_id] = resources(app.root, "AWS::Scheduler::ScheduleGroup")
    assert group_id in schedule["DependsOn"]  # created in the stage's group, after it


def test_the_schedules_role_may_only_invoke_the_sweep(app: Synthesized) -> None:
    [schedule] = resources(app.root, "AWS::Scheduler::Schedule").values()
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = app.root["Resources"][role_id]["Properties"]
    [principal] = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principal == {"Service": "scheduler.amazonaws.com"}
    granted = [
        s
        for policy in resources(app.root, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    function_id = schedule["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0]
    assert [(s["Action"], s["Resource"]) for s in granted] == [
        ("lambda:InvokeFunction", {"Fn::GetAtt": [function_id, "Arn"]})
    ]


def test_the_sweep_queries_only_the_progress_index_and_marks_only_plans(
    app: Synthesized,
) -> None:
    function_id = logical_id_of(
        app.root, "AWS::Lambda::Function", "FunctionName", f"soorma-{STAGE}-stall-sweep"
    )
    function = app.root["Resources"][function_id]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    granted = {
        s["Sid"]: s
        for policy in resources(app.root, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "Sid" in s
    }
    query = granted["QueryOpenPlans"]
    assert query["Action"] == "dynamodb:Query"
    assert json.dumps(query["Resource"]).endswith('/index/by_progress"]]}')
    mark = granted["MarkStalledPlans"]
    assert mark["Action"] == "dynamodb:UpdateItem"
    assert mark["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*#PLAN#*"]}
    }
    every_action = {a for s in granted.values() for a in actions_of(s)}
    assert not {"dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"} & every_action
    assert function["Environment"]["Variables"]["SOORMA_MEMORY_TABLE"] == {
        "Ref": logical_id_of(
            app.root, "AWS::DynamoDB::Table", "TableName", naming.table_name(STAGE, "memory")
        )
    }


def test_stalled_workflows_and_sweep_errors_alarm(app: Synthesized) -> None:
    alarms = by_name(app.root, "AWS::CloudWatch::Alarm", "AlarmName")
    stalled = alarms[f"soorma-{STAGE}-stall-sweep-stalled-workflows"]
    assert (stalled["Namespace"], stalled["MetricName"]) == ("Soorma", "StalledWorkflows")
    assert stalled["Dimensions"] == [{"Name": "service", "Value": "stall-sweep"}]
    assert stalled["Threshold"] == 0 and stalled["Statistic"] == "Sum"
    assert stalled["ComparisonOperator"] == "GreaterThanThreshold"
    errors = alarms[f"soorma-{STAGE}-stall-sweep-errors"]
    assert errors["MetricName"] == "Errors" and errors["Namespace"] == "AWS/Lambda"


def test_the_memory_table_indexes_open_plans_by_progress(app: Synthesized) -> None:
    table = by_name(app.root, "AWS::DynamoDB::Table", "TableName")[
        naming.table_name(STAGE, "memory")
    ]
    [index] = [i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "by_progress"]
    assert index["KeySchema"] == [
        {"AttributeName": "open_pk", "KeyType": "HASH"},
        {"AttributeName": "open_sk", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": [TTL_ATTRIBUTE]}
