"""cdk-nag: the AwsSolutions checks and our per-resource acknowledgments (never stack-wide).

Every acknowledgment goes through `acknowledge`, names one rule (or one finding of a rule) on
one construct, and says why; `acknowledgments(app)` lists them for the test that pins the list.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment as CdkAcknowledgment
from aws_cdk import App, Stack, Validations
from constructs import IConstruct


@dataclass(frozen=True, order=True)
class Acknowledgment:
    """One acknowledged cdk-nag finding: rule id, the construct's path, the reason."""

    rule: str
    path: str
    reason: str


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge `rule` (e.g. `AwsSolutions-L1` or `AwsSolutions-IAM5[Resource::*]`) on
    `construct` only."""
    if isinstance(construct, Stack):
        raise ValueError("acknowledgments are per resource, never stack-wide")
    Validations.of(construct).acknowledge(CdkAcknowledgment(id=rule, reason=reason))


def acknowledge_runtime(function: IConstruct, runtime_name: str) -> None:
    """AwsSolutions-L1 on a function on the runtime the layers are built for."""
    acknowledge(
        function,
        "AwsSolutions-L1",
        f"{runtime_name} is the runtime the soorma_common layer and the pinned Powertools layer "
        "are built and tested for",
    )


def acknowledge_tracing(policy: IConstruct) -> None:
    """AwsSolutions-IAM5 `Resource::*` on a role's policy: X-Ray's actions of active tracing."""
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray PutTraceSegments/PutTelemetryRecords (tracing ACTIVE) support no resource-level "
        "permissions",
    )


def enable_checks(app: App) -> None:
    """Run cdk-nag's AwsSolutions pack on every stack of `app` at synth time."""
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledgments(scope: IConstruct) -> list[Acknowledgment]:
    """Every acknowledgment recorded under `scope` (CDK keeps them as construct metadata,
    `{"Annotation::<rule>": reason}`), sorted."""
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key and isinstance(entry.data, dict):
                for rule, reason in entry.data.items():
                    found.append(
                        Acknowledgment(rule.split("::", 1)[-1], construct.node.path, str(reason))
                    )
    return sorted(found)
