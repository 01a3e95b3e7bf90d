"""`RegistrySync` in a small stack of its own: function, IAM, custom resource, cdk-nag, cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from infra.nag import enable_checks
from infra.paths import LAYER_ROOT
from infra.registry_sync import (
    RESOURCE_TYPE,
    ManifestsTooLargeError,
    RegistrySync,
    manifests_property,
)
from soorma import Worker
from soorma_common import EventDefinition
from soorma_common.manifest import AgentManifest
from tests.registry_catalog import order_manifests


def example_manifests() -> list[AgentManifest]:
    return order_manifests(with_inventory=False)  # consumes order.placed (additionalProperties)


class Synth:
    def __init__(self, outdir: Path) -> None:
        self.app = App(outdir=str(outdir))
        stack = Stack(self.app, "RegistrySyncTest")
        table = dynamodb.Table(
            stack,
            "Registry",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        layer = lambda_.LayerVersion(stack, "Common", code=lambda_.Code.from_asset(str(LAYER_ROOT)))
        self.sync = RegistrySync(
            stack,
            "RegistrySync",
            registry_table=table,
            manifests=example_manifests(),
            layers=[layer],
        )
        enable_checks(self.app)
        self.assembly = self.app.synth()
        self.template = Template.from_stack(stack)
        self.table_id = stack.get_logical_id(table.node.default_child)  # type: ignore[arg-type]
        self.file = outdir / "RegistrySyncTest.template.json"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return Synth(tmp_path_factory.mktemp("registry-sync"))


def test_custom_resource_carries_the_manifests_as_json(synth: Synth) -> None:
    (resource,) = synth.template.find_resources(RESOURCE_TYPE).values()
    props: dict[str, Any] = resource["Properties"]
    fn_id = synth.template.find_resources("AWS::Lambda::Function")
    assert props["ServiceToken"] == {"Fn::GetAtt": [next(iter(fn_id)), "Arn"]}
    assert props["TableName"] == {"Ref": synth.table_id}
    assert props["ServiceTimeout"] == "300"
    manifests = [AgentManifest.model_validate(m) for m in json.loads(props["Manifests"])]
    assert [m.model_dump(mode="json") for m in manifests] == [
        m.model_dump(mode="json") for m in example_manifests()
    ]
    schema = manifests[0].events_consumed[0].payload_schema
    assert schema is not None
    assert schema["additionalProperties"] is False  # not "false": JSON survives as JSON
    assert schema["properties"]["total"]["minimum"] == 0
    assert resource["DependsOn"]  # after the role and its table policy


def test_function_reads_and_writes_only_the_registry_table(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.handler",
            "Architectures": ["arm64"],
            "Environment": {"Variables": {"SOORMA_REGISTRY_TABLE": {"Ref": synth.table_id}}},
        },
    )
    synth.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "RegistryReadWrite",
                                "Action": Match.array_with(
                                    ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan"]
                                ),
                                "Resource": {"Fn::GetAtt": [synth.table_id, "Arn"]},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_the_asset_is_the_platform_function_folder(synth: Synth) -> None:
    assets = list(Path(synth.assembly.directory).glob("asset.*/handler.py"))
    assert any("def handler(" in p.read_text() and "Agent(" not in p.read_text() for p in assets)


def test_cfn_lint_passes(synth: Synth) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "-i", "W3005", "--", str(synth.file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_manifests_too_large_for_a_request_are_a_synth_error() -> None:
    big = EventDefinition(
        event_name="big.thing",
        topic="business-facts",
        payload_schema={
            "type": "object",
            "properties": {
                f"f{i}": {"type": "string", "description": "x" * 100} for i in range(3000)
            },
        },
    )
    with pytest.raises(ManifestsTooLargeError, match="over the 204800-byte budget"):
        manifests_property([Worker("big", events_consumed=[big]).manifest()])
