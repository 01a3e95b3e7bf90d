"""`FrontDoor` in small stacks: the HTTP API, its routes and authorizer, access logs and
throttling, the function's least privilege, cdk-nag and cfn-lint; the stage stack builds it only
when asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from infra import front_door
from infra.front_door import (
    FRONT_DOOR_CONTEXT_KEYS,
    FrontDoor,
    FrontDoorProps,
    FrontDoorSettingsError,
    front_door_from_context,
)
from infra.nag import Acknowledgment, acknowledgments, enable_checks
from infra.platform import SoormaPlatform, SoormaPlatformProps
from infra.stack import SoormaStack, SoormaStackProps
from soorma_common.front_door import VARIABLES

REPO = Path(__file__).resolve().parents[2]
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"
JWT = FrontDoorProps(jwt_issuer=ISSUER, jwt_audience=["app-client-1"])
IAM = FrontDoorProps(iam_auth=True, default_tenant="ops", rate_limit=5, burst_limit=10)


class Synth:
    """A stack holding the platform and a front door, synthesized with cdk-nag on."""

    def __init__(self, outdir: Path, props: FrontDoorProps) -> None:
        self.app = App(outdir=str(outdir))
        self.stack = Stack(self.app, "FrontDoorTest")
        self.platform = SoormaPlatform(self.stack, "Platform", SoormaPlatformProps(stage="dev"))
        self.door = FrontDoor(
            self.stack,
            "FrontDoor",
            stage="dev",
            bus=self.platform.bus,
            events_table=self.platform.tables["events"],
            registry_table=self.platform.tables["registry"],
            layers=self.platform.layers,
            props=props,
        )
        enable_checks(self.app)
        self.app.synth()  # raises on any unacknowledged cdk-nag finding
        self.template = Template.from_stack(self.stack)
        self.file = outdir / "FrontDoorTest.template.json"

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.get_logical_id(construct.node.default_child))


@pytest.fixture(scope="module")
def jwt(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return Synth(tmp_path_factory.mktemp("front-door-jwt"), JWT)


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return Synth(tmp_path_factory.mktemp("front-door-iam"), IAM)


def test_three_routes_behind_the_jwt_authorizer_with_payload_format_2(jwt: Synth) -> None:
    (authorizer,) = jwt.template.find_resources("AWS::ApiGatewayV2::Authorizer").values()
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Audience": ["app-client-1"],
        "Issuer": ISSUER,
    }
    routes = jwt.template.find_resources("AWS::ApiGatewayV2::Route").values()
    assert sorted(r["Properties"]["RouteKey"] for r in routes) == sorted(front_door.ROUTES)
    assert {r["Properties"]["AuthorizationType"] for r in routes} == {"JWT"}
    (integration,) = jwt.template.find_resources("AWS::ApiGatewayV2::Integration").values()
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration["Properties"]["IntegrationUri"] == {
        "Fn::GetAtt": [jwt.logical_id(jwt.door.function), "Arn"]
    }
    # API Gateway may invoke the function on these routes only
    permissions = jwt.template.find_resources("AWS::Lambda::Permission").values()
    assert len(permissions) == len(front_door.ROUTES) == 3
    assert all(p["Properties"]["Principal"] == "apigateway.amazonaws.com" for p in permissions)


def test_the_default_stage_throttles_and_writes_json_access_logs(jwt: Synth) -> None:
    (stage,) = jwt.template.find_resources("AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default" and props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 200,
        "ThrottlingRateLimit": 100,
    }
    assert props["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": [jwt.logical_id(jwt.door.access_log_group), "Arn"]
    }
    line = json.loads(props["AccessLogSettings"]["Format"])
    assert line["requestId"] == "$context.requestId"
    assert line["status"] == "$context.status"
    assert line["authorizerError"] == "$context.authorizer.error"


def test_the_function_puts_only_as_the_front_door_and_only_reads(jwt: Synth) -> None:
    (policy,) = [
        p
        for key, p in jwt.template.find_resources("AWS::IAM::Policy").items()
        if key.startswith("FrontDoorRole")
    ]
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    put = statements["PutEventsAsFrontDoor"]
    assert put["Action"] == "events:PutEvents"
    assert put["Condition"] == {"StringEquals": {"events:source": "soorma.front-door"}}
    assert put["Resource"] == {"Fn::GetAtt": [jwt.logical_id(jwt.platform.bus), "Arn"]}
    workflows = statements["ReadWorkflows"]
    assert workflows["Action"] == "dynamodb:Query"
    assert workflows["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CORR#*"]}
    }
    assert workflows["Resource"] == {
        "Fn::GetAtt": [jwt.logical_id(jwt.platform.tables["events"]), "Arn"]
    }
    assert statements["ReadRegisteredEvents"]["Action"] == "dynamodb:GetItem"
    actions = [
        action
        for s in statements.values()
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert sorted(a for a in actions if a.split(":")[0] in ("dynamodb", "events", "sqs")) == [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "events:PutEvents",
    ]


def test_the_function_gets_its_tables_bus_and_front_door_variables(jwt: Synth) -> None:
    (function,) = [
        f
        for key, f in jwt.template.find_resources("AWS::Lambda::Function").items()
        if key.startswith("FrontDoorFunction")
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    own = {name for name in variables if name.startswith("SOORMA_FRONT_DOOR_")}
    # the names the function reads (soorma_common.front_door, and door_calls' wait bound)
    assert own <= set(VARIABLES)
    jwt.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.handler",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "FunctionName": "soorma-dev-front-door",
            "Timeout": 29,  # over POST /call's 25 s wait, under API Gateway's 30 s
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "SOORMA_FRONT_DOOR_AUTH": "jwt",
                        "SOORMA_FRONT_DOOR_TENANT_CLAIM": "custom:tenant_id",
                        "SOORMA_FRONT_DOOR_USER_CLAIM": "sub",
                        "SOORMA_FRONT_DOOR_CALL_SECONDS": "25",
                        "SOORMA_EVENTS_TABLE": {
                            "Ref": jwt.logical_id(jwt.platform.tables["events"])
                        },
                        "SOORMA_REGISTRY_TABLE": {
                            "Ref": jwt.logical_id(jwt.platform.tables["registry"])
                        },
                        "SOORMA_EVENT_BUS": {"Ref": jwt.logical_id(jwt.platform.bus)},
                    }
                )
            },
        },
    )


def test_iam_auth_signs_every_route_and_names_the_default_tenant(iam: Synth) -> None:
    routes = iam.template.find_resources("AWS::ApiGatewayV2::Route").values()
    assert {r["Properties"]["AuthorizationType"] for r in routes} == {"AWS_IAM"}
    assert iam.template.find_resources("AWS::ApiGatewayV2::Authorizer") == {}
    (stage,) = iam.template.find_resources("AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 10,
        "ThrottlingRateLimit": 5,
    }
    iam.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"SOORMA_FRONT_DOOR_AUTH": "iam", "SOORMA_FRONT_DOOR_DEFAULT_TENANT": "ops"}
                )
            }
        },
    )


def test_cdk_nag_acknowledgments_are_exactly_these(jwt: Synth) -> None:
    runtime = (
        "python3.13 is the runtime the soorma_common layer and the pinned Powertools layer "
        "are built and tested for"
    )
    xray = (
        "X-Ray PutTraceSegments/PutTelemetryRecords (tracing ACTIVE) support no resource-level "
        "permissions"
    )
    assert acknowledgments(jwt.door) == [
        Acknowledgment(
            "AwsSolutions-IAM5[Resource::*]", "FrontDoorTest/FrontDoor/Role/DefaultPolicy", xray
        ),
        Acknowledgment("AwsSolutions-L1", "FrontDoorTest/FrontDoor/Function", runtime),
    ]


def test_cfn_lint_passes(jwt: Synth, iam: Synth) -> None:
    for synth in (jwt, iam):
        done = subprocess.run(
            [str(Path(sys.executable).with_name("cfn-lint")), "-i", "W3005", "--", str(synth.file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("props", "words"),
    [
        (FrontDoorProps(), "no authentication"),
        (FrontDoorProps(jwt_issuer=ISSUER), "needs both jwt_issuer"),
        (FrontDoorProps(jwt_issuer=ISSUER, jwt_audience=["a"], iam_auth=True), "not both"),
        (FrontDoorProps(iam_auth=True), "set default_tenant"),
        (FrontDoorProps(iam_auth=True, default_tenant="t", timeout_seconds=31), "outside 1..30"),
        (FrontDoorProps(iam_auth=True, default_tenant="t", call_seconds=28), "outside 0..27"),
        (FrontDoorProps(iam_auth=True, default_tenant="t", call_seconds=0), "outside 0..27"),
        (FrontDoorProps(iam_auth=True, default_tenant="t", timeout_seconds=10), "no time"),
        (
            FrontDoorProps(iam_auth=True, default_tenant="t", call_seconds=20, timeout_seconds=22),
            "at least call_seconds \\+ 3",
        ),
    ],
)
def test_props_that_leave_the_api_unusable_or_open_are_synth_errors(
    props: FrontDoorProps, words: str
) -> None:
    with pytest.raises(FrontDoorSettingsError, match=words):
        props.check()


def test_context_turns_the_front_door_on() -> None:
    values = {
        "front-door": "jwt",
        "front-door-jwt-issuer": ISSUER,
        "front-door-jwt-audience": "a, b",
    }
    props = front_door_from_context(values.get)
    assert props == FrontDoorProps(jwt_issuer=ISSUER, jwt_audience=["a", "b"])
    assert front_door_from_context({}.get) is None
    iam_props = front_door_from_context(
        {"front-door": "iam", "front-door-default-tenant": "ops"}.get
    )
    assert iam_props is not None and iam_props.iam_auth and iam_props.default_tenant == "ops"
    with pytest.raises(FrontDoorSettingsError, match="use jwt or iam"):
        front_door_from_context({"front-door": "open"}.get)

    from infra.app import props_from_context

    assert props_from_context(App(context=values))["front_door"] == props
    assert "front_door" not in props_from_context(App())


def test_the_context_keys_are_documented() -> None:
    doc = (REPO / "docs" / "front-door.md").read_text()
    for key in FRONT_DOOR_CONTEXT_KEYS:
        assert f"| `{key}` |" in doc


def test_the_stage_stack_has_a_front_door_only_when_asked() -> None:
    app = App()
    without = SoormaStack(app, "without", SoormaStackProps(stage="dev"))
    with_door = SoormaStack(app, "with", SoormaStackProps(stage="dev", front_door=JWT))

    assert without.front_door is None
    assert Template.from_stack(without).find_resources("AWS::ApiGatewayV2::Api") == {}
    assert with_door.front_door is not None
    assert len(Template.from_stack(with_door).find_resources("AWS::ApiGatewayV2::Api")) == 1
