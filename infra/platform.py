"""`SoormaPlatform`: the stage's bus, its archive, the DynamoDB tables and the two layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.bundling import ASSET_EXCLUDES
from infra.deadlines import RequestDeadlines
from infra.paths import LAYER_ROOT
from infra.powertools import ARCHITECTURE, RUNTIME, PowertoolsLayerProps, powertools_layer
from soorma_common import naming
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.tables import TABLES, TableSpec

#: Files never shipped in the `soorma_common` layer.
LAYER_EXCLUDES = ASSET_EXCLUDES


def retains_data(stage: str) -> bool:
    """Whether a stage keeps its tables, queues and DLQs when the stack is deleted (production
    stages do)."""
    return stage.startswith("prod")


@dataclass(frozen=True)
class SoormaPlatformProps:
    """What the platform is built from.

    - `stage`: part of every name (`soorma-<stage>`).
    - `archive_retention_days`: how long the bus archive keeps events for replay (default 30;
      0 keeps them forever).
    - `retain_data`: keep tables on stack deletion (default: stages starting with `prod`);
      retained tables also get deletion protection.
    - `layer_root`: the `soorma_common` layer folder (holds `python/`).
    - `powertools`: which AWS-managed Powertools layer to use.
    """

    stage: str
    archive_retention_days: int = 30
    retain_data: bool | None = None
    layer_root: Path = LAYER_ROOT
    powertools: PowertoolsLayerProps = field(default_factory=PowertoolsLayerProps)


class SoormaPlatform(Construct):
    """The bus `soorma-<stage>` with its archive, the tables of `soorma_common.tables.TABLES`
    (on-demand, PITR, TTL on `delivery.TTL_ATTRIBUTE`) and the layers every function uses.

    Attributes: `bus`, `archive`, `tables` (role -> table), `common_layer`, `powertools_layer`,
    `layers` (both, in the order functions get them), `deadlines` (request deadlines: the
    schedule group and the Scheduler role).
    """

    def __init__(self, scope: Construct, construct_id: str, props: SoormaPlatformProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        stage = naming.check_stage(props.stage)
        self.bus = events.EventBus(self, "Bus", event_bus_name=naming.bus_name(stage))
        self.archive = self.bus.archive(
            "Archive",
            archive_name=naming.archive_name(stage),
            description=f"Every event of the {stage} stage, for replay",
            # Every event on the bus, external producers' too (not only `soorma.*` sources):
            # every event has a `source`. Replays are never re-archived (EventBridge).
            event_pattern=events.EventPattern(source=events.Match.exists()),
            retention=(
                Duration.days(props.archive_retention_days)
                if props.archive_retention_days
                else None
            ),
        )
        retain = retains_data(stage) if props.retain_data is None else props.retain_data
        self.tables: dict[str, dynamodb.Table] = {
            role: self._table(stage, spec, retain) for role, spec in TABLES.items()
        }
        self.common_layer = lambda_.LayerVersion(
            self,
            "CommonLayer",
            code=lambda_.Code.from_asset(str(props.layer_root), exclude=LAYER_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="soorma_common (the wire contract) and soorma (the agent SDK and runtime)",
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        self.powertools_layer = powertools_layer(self, "PowertoolsLayer", props.powertools)
        self.layers: list[lambda_.ILayerVersion] = [self.powertools_layer, self.common_layer]
        self.deadlines = RequestDeadlines(self, "Deadlines", stage=stage, bus=self.bus)

    def _table(self, stage: str, spec: TableSpec, retain: bool) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            naming.logical_id(spec.role, "table"),
            table_name=naming.table_name(stage, spec.role),
            partition_key=dynamodb.Attribute(
                name=spec.partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=(
                dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
                if spec.sort_key
                else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            deletion_protection=retain,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb.Attribute(
                    name=index.partition_key, type=dynamodb.AttributeType.STRING
                ),
                sort_key=(
                    dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING)
                    if index.sort_key
                    else None
                ),
                projection_type=(
                    dynamodb.ProjectionType.INCLUDE
                    if index.projected
                    else dynamodb.ProjectionType.KEYS_ONLY
                ),
                non_key_attributes=list(index.projected) or None,
            )
        return table
