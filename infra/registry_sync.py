"""`RegistrySync`: the registry-sync function and the custom resource that runs it at deploy.

The custom resource carries the manifests as one JSON string property (CloudFormation passes
every scalar inside an object property to the provider as a string, which would corrupt JSON
Schemas), so any change to an agent's events or subscriptions is an Update of this resource.
The function (`functions/registry_sync`, `soorma.registry.custom_resource`) answers
CloudFormation itself at the presigned `ResponseURL`: no Provider framework, so no extra
Node.js function and role. `ServiceTimeout` bounds a lost answer to minutes instead of an hour.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import function_code
from infra.function_parts import function_log_group, lambda_role
from infra.nag import acknowledge_runtime
from infra.paths import FUNCTIONS_ROOT
from infra.permissions import TABLE_READ_ACTIONS, TABLE_WRITE_ACTIONS, table_statement
from infra.powertools import ARCHITECTURE, RUNTIME
from soorma_common.environment import POWERTOOLS_SERVICE_NAME, REGISTRY_TABLE
from soorma_common.manifest import AgentManifest

#: The function's asset folder (a platform function, not an agent).
REGISTRY_SYNC_CODE = FUNCTIONS_ROOT / "registry_sync"
#: The custom resource's type (`Custom::` + at most 60 characters).
RESOURCE_TYPE = "Custom::SoormaRegistrySync"
#: Lambda's asynchronous invocation payload limit, which the whole request must fit in.
MAX_MANIFESTS_BYTES = 200 * 1024


class ManifestsTooLargeError(ValueError):
    """The manifests' JSON would not fit in a custom-resource request."""


def manifests_property(manifests: Sequence[AgentManifest]) -> str:
    """The `Manifests` property: a compact, sorted JSON list (stable across synths)."""
    records = sorted((m.model_dump(mode="json") for m in manifests), key=lambda r: r["name"])
    text = json.dumps(records, sort_keys=True, separators=(",", ":"))
    size = len(text.encode("utf-8"))
    if size > MAX_MANIFESTS_BYTES:
        raise ManifestsTooLargeError(
            f"the manifests are {size} bytes of JSON, over the {MAX_MANIFESTS_BYTES}-byte budget "
            "of a custom-resource request: move large JSON Schemas to $defs shared by events, or "
            "split the agents into stages"
        )
    return text


class RegistrySync(Construct):
    """Writes the manifests' events and agents to the registry table on every deploy.

    Attributes: `function`, `role`, `log_group`, `resource` (the `CustomResource`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        registry_table: dynamodb.ITable,
        manifests: Sequence[AgentManifest],
        layers: Sequence[lambda_.ILayerVersion],
        code_path: Path = REGISTRY_SYNC_CODE,
        function_name: str | None = None,
        timeout: Duration | None = None,
        service_timeout: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        manifests_json = manifests_property(manifests)
        self.role = lambda_role(self, "Soorma registry sync: read and write the registry table")
        self.log_group = function_log_group(self, None, log_retention)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="Soorma registry sync (CloudFormation custom resource)",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=function_code(code_path),
            layers=list(layers),
            role=self.role,
            log_group=self.log_group,
            timeout=timeout or Duration.minutes(2),
            memory_size=256,
            environment={
                POWERTOOLS_SERVICE_NAME: "registry-sync",
                REGISTRY_TABLE: registry_table.table_name,
            },
        )
        self.log_group.grant_write(self.role)
        self.role.add_to_policy(
            table_statement(
                "RegistryReadWrite",
                registry_table.table_arn,
                TABLE_READ_ACTIONS + TABLE_WRITE_ACTIONS,
            )
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=service_timeout or Duration.minutes(5),
            properties={
                "TableName": registry_table.table_name,
                "Manifests": manifests_json,
                "ManifestsSha256": hashlib.sha256(manifests_json.encode()).hexdigest(),
            },
        )
        # the table grant must exist before CloudFormation invokes the function
        self.resource.node.add_dependency(self.role)
        acknowledge_runtime(self.function, RUNTIME.name)
