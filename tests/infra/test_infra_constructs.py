"""The constructs' props and checks, on small stacks (no agent folders, no child process)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from infra.agent_function import AgentFunction, AgentFunctionProps, DeliverySettingsError
from infra.nag import acknowledge, enable_checks
from infra.paths import LAYER_ROOT
from infra.platform import SoormaPlatform, SoormaPlatformProps
from infra.powertools import PowertoolsLayerProps
from soorma_common.manifest import AgentKind, AgentManifest, Subscription
from soorma_common.topics import EventTopic

MANIFEST = AgentManifest(
    name="checker",
    kind=AgentKind.WORKER,
    subscriptions=[Subscription(topic=EventTopic.ACTION_REQUESTS, event_type="check.run")],
)


def agent_props(platform: SoormaPlatform, code: Path, **overrides: object) -> AgentFunctionProps:
    fields: dict[str, object] = {"stage": "dev", **overrides}
    return AgentFunctionProps(
        manifest=MANIFEST,
        code_path=code,
        bus=platform.bus,
        tables=platform.tables,
        layers=platform.layers,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    return tmp_path


def test_visibility_below_six_times_the_timeout_is_a_clear_synth_error(code: Path) -> None:
    stack = Stack(App(), "s")
    platform = SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage="dev"))
    props = agent_props(platform, code, timeout_seconds=60, visibility_timeout_seconds=300)
    with pytest.raises(
        DeliverySettingsError, match=r"300 is less than 6 x timeout_seconds \(60\) = 360"
    ):
        AgentFunction(stack, "Agent", props)


def test_timeout_whose_visibility_exceeds_sqs_limits_is_rejected(code: Path) -> None:
    stack = Stack(App(), "s")
    platform = SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage="dev"))
    with pytest.raises(DeliverySettingsError, match="outside Lambda's"):
        AgentFunction(stack, "Agent", agent_props(platform, code, timeout_seconds=901))
    with pytest.raises(DeliverySettingsError, match="MaximumConcurrency"):
        AgentFunction(stack, "Agent2", agent_props(platform, code, max_concurrency=1))


def test_max_concurrency_and_larger_visibility_are_applied(code: Path) -> None:
    stack = Stack(App(), "s")
    platform = SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage="dev"))
    AgentFunction(
        stack,
        "Agent",
        agent_props(
            platform, code, max_concurrency=5, timeout_seconds=10, visibility_timeout_seconds=120
        ),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"ScalingConfig": {"MaximumConcurrency": 5}}
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"QueueName": "soorma-dev-checker-action-requests", "VisibilityTimeout": 120},
    )


def test_the_events_table_is_written_by_platform_agents_chosen_by_kind_not_name(
    code: Path,
) -> None:
    stack = Stack(App(), "s")
    platform = SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage="dev"))
    impostor = MANIFEST.model_copy(update={"name": "event-log"})
    platform_agent = MANIFEST.model_copy(update={"kind": AgentKind.PLATFORM})
    props = agent_props(platform, code)
    assert not props.event_log_writer()
    assert not replace(props, manifest=impostor).event_log_writer()
    assert replace(props, manifest=platform_agent).event_log_writer()


def test_powertools_layer_pinned_by_number_is_region_aware() -> None:
    stack = Stack(App(), "s")
    arn = stack.resolve(PowertoolsLayerProps(layer_version=42).layer_arn())
    assert arn == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:017000801446:layer:"
        "AWSLambdaPowertoolsPythonV3-python313-arm64:42"
    }
    assert PowertoolsLayerProps(arn="arn:aws:lambda:x").layer_arn() == "arn:aws:lambda:x"
    assert PowertoolsLayerProps().ssm_parameter() == (
        "/aws/service/powertools/python/arm64/python3.13/3.37.0"
    )


def test_production_stages_retain_and_protect_their_tables() -> None:
    stack = Stack(App(), "s")
    SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage="prod", archive_retention_days=0))
    template = Template.from_stack(stack)
    for table in template.find_resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True
    (archive,) = template.find_resources("AWS::Events::Archive").values()
    assert archive["Properties"]["RetentionDays"] == 0  # AWS: 0 = keep forever


def test_production_stages_retain_their_queues_and_dead_letters(code: Path) -> None:
    """Issue 10: queues and DLQs were deleted with a production stack (the tables were kept)."""
    for stage, policy in (("prod", "Retain"), ("prodeu", "Retain"), ("dev", "Delete")):
        stack = Stack(App(), "s")
        platform = SoormaPlatform(stack, "Platform", SoormaPlatformProps(stage=stage))
        AgentFunction(stack, "Agent", agent_props(platform, code, stage=stage))
        queues = Template.from_stack(stack).find_resources("AWS::SQS::Queue").values()
        assert {q["DeletionPolicy"] for q in queues} == {policy}, stage


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "s")
    sqs.Queue(stack, "Plain")  # no DLQ, no TLS-only policy
    enable_checks(app)
    with pytest.raises(Exception, match="AwsSolutions-SQS"):
        app.synth()


def test_acknowledgments_are_never_stack_wide() -> None:
    stack = Stack(App(), "s")
    with pytest.raises(ValueError, match="never stack-wide"):
        acknowledge(stack, "AwsSolutions-L1", "no")


def test_context_overrides_the_powertools_layer_and_archive_retention() -> None:
    from infra.app import props_from_context

    app = App(
        context={"powertools-layer-version": "57", "archive-retention-days": "7", "stage": "ci"}
    )
    props = props_from_context(app)
    assert props["powertools"] == PowertoolsLayerProps(layer_version=57)
    assert props["archive_retention_days"] == 7
    assert props_from_context(App()) == {}


def test_infra_imports_the_contract_only_never_the_runtime_or_dev_tools() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, infra, infra.app;"
        "print([m for m in sys.modules if m.split('.')[0] in ('soorma', 'soorma_dev')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        env={
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(LAYER_ROOT / "python"),  # this checkout's contract
        },
    )
    assert done.stdout.strip() == "[]"
