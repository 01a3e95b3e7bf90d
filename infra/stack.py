"""`SoormaStack`: one stage = the platform + one nested stack per agent + the dashboard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import NestedStack, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.agent_function import AgentFunction, AgentFunctionProps
from infra.front_door import FrontDoor, FrontDoorProps
from infra.monitoring import agent_alarms, stage_dashboard, stall_sweep_alarms
from infra.platform import SoormaPlatform, SoormaPlatformProps
from infra.powertools import PowertoolsLayerProps
from infra.registry_sync import RegistrySync
from infra.stall_sweep import StallSweep, StallSweepProps
from soorma_common import naming
from soorma_common.manifest import AgentManifest
from soorma_common.manifest_reader import FunctionManifest


@dataclass(frozen=True)
class AgentDefaults:
    """Settings every agent gets unless `SoormaStackProps.agent_settings` overrides them."""

    timeout_seconds: int = 30
    memory_mib: int = 512
    max_concurrency: int | None = None


@dataclass(frozen=True)
class SoormaStackProps:
    """A stage's stack.

    - `stage`: the stage (`--context stage=dev`).
    - `functions`: the agents (from `read_function_manifests`).
    - `agent_defaults`, `agent_settings` (agent name -> AgentDefaults): function settings.
    - `archive_retention_days`, `retain_data`, `powertools`: see `SoormaPlatformProps`.
    - `alarm_actions`: actions of every alarm (e.g. an SNS topic action).
    - `front_door`: the HTTP API (`infra.front_door`), built only when given.
    - `stall_sweep`: the scheduled sweep reporting stalled workflows (`infra.stall_sweep`);
      None turns it off.
    """

    stage: str
    functions: Sequence[FunctionManifest] = ()
    agent_defaults: AgentDefaults = field(default_factory=AgentDefaults)
    agent_settings: Mapping[str, AgentDefaults] = field(default_factory=dict)
    archive_retention_days: int = 30
    retain_data: bool | None = None
    powertools: PowertoolsLayerProps = field(default_factory=PowertoolsLayerProps)
    alarm_actions: Sequence[cloudwatch.IAlarmAction] = ()
    front_door: FrontDoorProps | None = None
    stall_sweep: StallSweepProps | None = field(default_factory=StallSweepProps)


class AgentStack(NestedStack):
    """One agent's nested stack: its `AgentFunction` and alarms (about 7 resources per topic)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: SoormaPlatform,
        function: FunctionManifest,
        settings: AgentDefaults,
        alarm_actions: Sequence[cloudwatch.IAlarmAction] = (),
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Soorma agent {function.manifest.name} ({platform.props.stage})",
        )
        self.agent = AgentFunction(
            self,
            "Agent",
            AgentFunctionProps(
                manifest=function.manifest,
                code_path=function.path,
                stage=platform.props.stage,
                bus=platform.bus,
                tables=platform.tables,
                layers=platform.layers,
                timeout_seconds=settings.timeout_seconds,
                memory_mib=settings.memory_mib,
                max_concurrency=settings.max_concurrency,
                retain_queues=platform.props.retain_data,
                deadlines=platform.deadlines,
            ),
        )
        self.alarms = agent_alarms(self, self.agent, alarm_actions)


class SoormaStack(Stack):
    """The stage `soorma-<stage>`: `SoormaPlatform`, an `AgentStack` per agent, the registry
    sync (`RegistrySync`, run on every deploy, before any agent stack is created or updated),
    one dashboard.

    Attributes for the platform's other parts (e.g. the registry sync): `platform`,
    `registry_table`, `layers`, `manifests`, `functions`, `agents` (name -> AgentStack),
    `front_door` (a `FrontDoor` when `props.front_door` is given, else None), `stall_sweep`
    (a `StallSweep` unless `props.stall_sweep` is None) and `stall_sweep_alarms`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: SoormaStackProps, **kwargs: object
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Soorma Serverless, stage {props.stage}: bus, tables and agents",
            **kwargs,  # type: ignore[arg-type]
        )
        self.props = props
        self.platform = SoormaPlatform(
            self,
            "Platform",
            SoormaPlatformProps(
                stage=props.stage,
                archive_retention_days=props.archive_retention_days,
                retain_data=props.retain_data,
                powertools=props.powertools,
            ),
        )
        self.functions = list(props.functions)
        self.agents: dict[str, AgentStack] = {}
        for function in self.functions:
            name = function.manifest.name
            self.agents[name] = AgentStack(
                self,
                naming.logical_id(name, "agent"),
                platform=self.platform,
                function=function,
                settings=props.agent_settings.get(name, props.agent_defaults),
                alarm_actions=props.alarm_actions,
            )
        self.registry_sync = RegistrySync(
            self,
            "RegistrySync",
            registry_table=self.registry_table,
            manifests=self.manifests,
            layers=self.layers,
            function_name=naming.function_name(props.stage, "registry-sync"),
        )
        # Agents start consuming only once the registry holds their schemas: a consumer that
        # read "no schema" before the sync would pass unchecked payloads until its cache expires.
        for agent in self.agents.values():
            agent.node.add_dependency(self.registry_sync.resource)
        self.dashboard = stage_dashboard(self, "Dashboard", props.stage, self.manifests)
        self.front_door = (
            None
            if props.front_door is None
            else FrontDoor(
                self,
                "FrontDoor",
                stage=props.stage,
                bus=self.platform.bus,
                events_table=self.platform.tables["events"],
                registry_table=self.registry_table,
                layers=self.layers,
                props=props.front_door,
            )
        )

        self.stall_sweep: StallSweep | None = None
        self.stall_sweep_alarms: list[cloudwatch.Alarm] = []
        if props.stall_sweep is not None:
            self.stall_sweep = StallSweep(
                self,
                "StallSweep",
                stage=props.stage,
                bus=self.platform.bus,
                memory_table=self.platform.tables["memory"],
                layers=self.layers,
                deadlines=self.platform.deadlines,
                props=props.stall_sweep,
            )
            self.stall_sweep_alarms = stall_sweep_alarms(
                self.stall_sweep, self.stall_sweep, props.alarm_actions
            )

    @property
    def manifests(self) -> list[AgentManifest]:
        """The manifests of every agent of the stage (what the registry sync writes)."""
        return [f.manifest for f in self.functions]

    @property
    def registry_table(self) -> dynamodb.Table:
        """The registry table (written at deploy time by the registry sync)."""
        return self.platform.tables["registry"]

    @property
    def layers(self) -> list[lambda_.ILayerVersion]:
        """The layers every function gets (Powertools, soorma_common)."""
        return self.platform.layers
