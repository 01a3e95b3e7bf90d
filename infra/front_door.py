"""`FrontDoor`: the platform's HTTP API (API Gateway HTTP API) in front of `functions/front_door`.

Routes `POST /events`, `POST /call` and `GET /workflows/{correlation_id}` go to one Lambda
function (payload format 2.0) behind a JWT authorizer (issuer and audience given) or IAM auth
(SigV4). The `$default` stage writes JSON access logs and throttles every route (default route
settings).
The function may put events on the bus only as `soorma.front-door`, query only the event log's
workflow partitions (`CORR#...`) and read single registry entries. See docs/front-door.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigatewayv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import function_code
from infra.function_parts import function_log_group, lambda_role
from infra.nag import acknowledge_runtime, acknowledge_tracing
from infra.paths import FUNCTIONS_ROOT
from infra.permissions import table_statement
from infra.powertools import ARCHITECTURE, RUNTIME
from soorma_common import naming
from soorma_common.delivery import METRICS_NAMESPACE
from soorma_common.environment import (
    EVENT_BUS,
    EVENTS_TABLE,
    POWERTOOLS_METRICS_NAMESPACE,
    POWERTOOLS_SERVICE_NAME,
    REGISTRY_TABLE,
    STAGE,
)
from soorma_common.front_door import (
    AUTH_MODE,
    CALL_MARGIN_SECONDS,
    CALL_SECONDS,
    DEFAULT_TENANT,
    DEFAULT_TENANT_CLAIM,
    DEFAULT_USER,
    DEFAULT_USER_CLAIM,
    FRONT_DOOR,
    IAM_AUTH,
    JWT_AUTH,
    MAX_INTEGRATION_SECONDS,
    TENANT_CLAIM,
    TOPICS,
    USER_CLAIM,
    WORKFLOW_PARTITIONS,
)
from soorma_common.topics import EventTopic

#: The function's asset folder (a platform function, not an agent).
FRONT_DOOR_CODE = FUNCTIONS_ROOT / "front_door"
#: The routes, as API Gateway writes route keys.
ROUTES = ("POST /events", "POST /call", "GET /workflows/{correlation_id}")
#: The access log line: one JSON object per request ($context variables of HTTP APIs).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


class FrontDoorSettingsError(ValueError):
    """Props that leave the API without a way to authenticate callers (or with two)."""


@dataclass(frozen=True)
class FrontDoorProps:
    """What the front door is built from.

    - Authentication, exactly one of: `jwt_issuer` with `jwt_audience` (a JWT authorizer, e.g.
      a Cognito user pool's issuer URL and app client ids), or `iam_auth=True` (SigV4; every
      caller then acts as `default_tenant` / `default_user`).
    - `tenant_claim` / `user_claim`: the JWT claims naming the caller's tenant and user
      (defaults `custom:tenant_id`, `sub`).
    - `topics`: the topics callers may publish on (default: action-requests, business-facts,
      notification-events).
    - `rate_limit` (requests/s, steady) and `burst_limit`: the stage's default route throttle.
    - `call_seconds`: how long `POST /call` waits for a reply before answering 202 (default 25,
      at most 30 - `CALL_MARGIN_SECONDS`, and `timeout_seconds` must exceed it by that margin).
    - `timeout_seconds` (at most 30, API Gateway's limit), `memory_mib`, `log_retention`
      (function and access logs), `code_path`, `environment` (extra variables).
    """

    jwt_issuer: str | None = None
    jwt_audience: Sequence[str] = ()
    iam_auth: bool = False
    tenant_claim: str = DEFAULT_TENANT_CLAIM
    user_claim: str = DEFAULT_USER_CLAIM
    default_tenant: str | None = None
    default_user: str | None = None
    topics: Sequence[EventTopic] | None = None
    rate_limit: float = 100.0
    burst_limit: int = 200
    call_seconds: float = 25.0
    timeout_seconds: int = 29
    memory_mib: int = 512
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    code_path: Path = FRONT_DOOR_CODE
    environment: Mapping[str, str] = field(default_factory=dict)

    def check(self) -> None:
        """Raise `FrontDoorSettingsError` for an API nobody could (or anybody could) call."""
        jwt = self.jwt_issuer is not None or bool(self.jwt_audience)
        if jwt and self.iam_auth:
            raise FrontDoorSettingsError(
                "front door: choose one authentication, a JWT authorizer (jwt_issuer, "
                "jwt_audience) or IAM auth (iam_auth=True), not both"
            )
        if not jwt and not self.iam_auth:
            raise FrontDoorSettingsError(
                "front door: no authentication; give jwt_issuer and jwt_audience (a JWT "
                "authorizer) or iam_auth=True with default_tenant"
            )
        if jwt and not (self.jwt_issuer and self.jwt_audience):
            raise FrontDoorSettingsError(
                f"front door: a JWT authorizer needs both jwt_issuer ({self.jwt_issuer!r}) and "
                f"jwt_audience ({list(self.jwt_audience)!r})"
            )
        if self.iam_auth and not self.default_tenant:
            raise FrontDoorSettingsError(
                "front door: IAM auth carries no tenant; set default_tenant (the tenant every "
                "signed caller acts as)"
            )
        if not 1 <= self.timeout_seconds <= MAX_INTEGRATION_SECONDS:
            raise FrontDoorSettingsError(
                f"front door: timeout_seconds={self.timeout_seconds} is outside 1.."
                f"{MAX_INTEGRATION_SECONDS} (API Gateway's integration timeout)"
            )
        if not 0 < self.call_seconds <= MAX_INTEGRATION_SECONDS - CALL_MARGIN_SECONDS:
            raise FrontDoorSettingsError(
                f"front door: call_seconds={self.call_seconds:g} is outside 0.."
                f"{MAX_INTEGRATION_SECONDS - CALL_MARGIN_SECONDS} (API Gateway's integration "
                f"timeout minus a {CALL_MARGIN_SECONDS} s margin)"
            )
        if self.timeout_seconds < self.call_seconds + CALL_MARGIN_SECONDS:
            raise FrontDoorSettingsError(
                f"front door: timeout_seconds={self.timeout_seconds} leaves POST /call no time "
                f"to answer after waiting call_seconds={self.call_seconds:g}: make it at least "
                f"call_seconds + {CALL_MARGIN_SECONDS}"
            )

    def function_environment(self) -> dict[str, str]:
        """The front door's own variables."""
        variables = {
            AUTH_MODE: IAM_AUTH if self.iam_auth else JWT_AUTH,
            TENANT_CLAIM: self.tenant_claim,
            USER_CLAIM: self.user_claim,
            CALL_SECONDS: f"{self.call_seconds:g}",
        }
        if self.default_tenant:
            variables[DEFAULT_TENANT] = self.default_tenant
        if self.default_user:
            variables[DEFAULT_USER] = self.default_user
        if self.topics is not None:
            variables[TOPICS] = ",".join(EventTopic.parse(t).value for t in self.topics)
        return variables


class FrontDoor(Construct):
    """The HTTP API, its `$default` stage (access logs, throttling), its authorizer, the routes
    and the function behind them.

    Attributes: `api`, `stage`, `function`, `role`, `log_group`, `access_log_group`, `url`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        bus: events.IEventBus,
        events_table: dynamodb.ITable,
        registry_table: dynamodb.ITable,
        layers: Sequence[lambda_.ILayerVersion],
        props: FrontDoorProps,
    ) -> None:
        super().__init__(scope, construct_id)
        props.check()
        self.props = props
        function_name = naming.platform_function_name(stage, FRONT_DOOR)
        self.role = lambda_role(
            self, f"Soorma front door ({stage}): publish as soorma.front-door, read workflows"
        )
        self.log_group = function_log_group(self, function_name, props.log_retention)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=(
                "Soorma front door: POST /events, POST /call, GET /workflows/{correlation_id}"
            ),
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=function_code(props.code_path),
            layers=list(layers),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=Duration.seconds(props.timeout_seconds),
            memory_size=props.memory_mib,
            environment={
                STAGE: stage,
                EVENT_BUS: bus.event_bus_name,
                EVENTS_TABLE: events_table.table_name,
                REGISTRY_TABLE: registry_table.table_name,
                POWERTOOLS_SERVICE_NAME: FRONT_DOOR,
                POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
                **props.function_environment(),
                **props.environment,
            },
        )
        self.log_group.grant_write(self.role)
        self._grant(bus, events_table, registry_table)

        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=props.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.api = apigatewayv2.HttpApi(
            self,
            "Api",
            api_name=f"soorma-{stage}-front-door",
            description=f"Soorma front door ({stage})",
            create_default_stage=False,
        )
        self.stage = apigatewayv2.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigatewayv2.ThrottleSettings(
                rate_limit=props.rate_limit, burst_limit=props.burst_limit
            ),
            access_log_settings=JsonAccessLogs(self.access_log_group),
        )
        integration = integrations.HttpLambdaIntegration("Function", self.function)
        authorizer: apigatewayv2.IHttpRouteAuthorizer = (
            authorizers.HttpIamAuthorizer()
            if props.iam_auth
            else authorizers.HttpJwtAuthorizer(
                "Jwt", str(props.jwt_issuer), jwt_audience=list(props.jwt_audience)
            )
        )
        for route in ROUTES:
            method, path = route.split(" ", 1)
            self.api.add_routes(
                path=path,
                methods=[apigatewayv2.HttpMethod(method)],
                integration=integration,
                authorizer=authorizer,
            )
        self.url = self.stage.url
        CfnOutput(self, "Url", value=self.url, description="The front door's base URL")
        self._acknowledge_findings()

    def _grant(
        self, bus: events.IEventBus, events_table: dynamodb.ITable, registry: dynamodb.ITable
    ) -> None:
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PutEventsAsFrontDoor",
                actions=["events:PutEvents"],
                resources=[bus.event_bus_arn],
                conditions={"StringEquals": {"events:source": naming.event_source(FRONT_DOOR)}},
            )
        )
        # One workflow's events (Query on a `CORR#` partition) and one registry entry (GetItem).
        self.role.add_to_principal_policy(
            table_statement(
                "ReadWorkflows",
                events_table.table_arn,
                ("dynamodb:Query",),
                leading_keys=[WORKFLOW_PARTITIONS],
            )
        )
        self.role.add_to_principal_policy(
            table_statement("ReadRegisteredEvents", registry.table_arn, ("dynamodb:GetItem",))
        )

    def _acknowledge_findings(self) -> None:
        acknowledge_runtime(self.function, RUNTIME.name)
        acknowledge_tracing(self.role.node.find_child("DefaultPolicy"))


@jsii.implements(apigatewayv2.IAccessLogSettings)
class JsonAccessLogs:
    """Access logs of a stage: one JSON line per request (`ACCESS_LOG_FIELDS`) into a log group."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._log_group = log_group

    @property
    def destination(self) -> apigatewayv2.IAccessLogDestination:
        """The log group."""
        return apigatewayv2.LogGroupLogDestination(self._log_group)

    @property
    def format(self) -> apigateway.AccessLogFormat:
        """The line: `ACCESS_LOG_FIELDS` as compact JSON."""
        return apigateway.AccessLogFormat.custom(
            json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))
        )


#: Context keys that turn the front door on (`-c front-door=jwt -c front-door-jwt-issuer=...`);
#: documented in docs/front-door.md.
FRONT_DOOR_CONTEXT_KEYS = (
    "front-door",
    "front-door-jwt-issuer",
    "front-door-jwt-audience",
    "front-door-default-tenant",
)


def front_door_from_context(context: Callable[[str], Any]) -> FrontDoorProps | None:
    """`FrontDoorProps` from CDK context (`app.node.try_get_context`), or None when the
    `front-door` key is absent (the stack then has no API): `jwt` with
    `front-door-jwt-issuer` and `front-door-jwt-audience` (comma-separated), or `iam` with
    `front-door-default-tenant`."""
    mode = context("front-door")
    if mode is None:
        return None
    if mode not in (JWT_AUTH, IAM_AUTH):
        raise FrontDoorSettingsError(f"context front-door={mode!r}: use jwt or iam")
    audience = context("front-door-jwt-audience") or ""
    props = FrontDoorProps(
        jwt_issuer=context("front-door-jwt-issuer") if mode == JWT_AUTH else None,
        jwt_audience=[a.strip() for a in str(audience).split(",") if a.strip()],
        iam_auth=mode == IAM_AUTH,
        default_tenant=context("front-door-default-tenant"),
    )
    props.check()
    return props
