"""Building the CDK app: `build_app(functions_root=..., stage=...)`; `main()` is `app.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import App

from infra.front_door import front_door_from_context
from infra.nag import enable_checks
from infra.paths import FUNCTIONS_ROOT, REPO_ROOT
from infra.powertools import PowertoolsLayerProps
from infra.stack import SoormaStack, SoormaStackProps
from infra.stall_sweep import STALL_SWEEP_CONTEXT_KEYS, stall_sweep_from_context
from soorma_common import naming
from soorma_common.manifest_reader import read_function_manifests

DEFAULT_STAGE = "dev"
DEFAULT_FUNCTIONS_ROOT = FUNCTIONS_ROOT


def build_app(
    *,
    functions_root: str | Path = DEFAULT_FUNCTIONS_ROOT,
    stage: str | None = None,
    app: App | None = None,
    nag: bool = True,
    python: str | None = None,
    **props: Any,
) -> tuple[App, SoormaStack]:
    """An app holding the stage's stack with every agent under `functions_root`.

    `stage` defaults to the `stage` context value, then `dev`; `nag` runs cdk-nag's
    AwsSolutions checks at synth; `python` is the interpreter of the child process that reads
    the manifests (`soorma_common.manifest_reader.read_function_manifests`); `props` go to
    `SoormaStackProps`.
    """
    app = app or App()
    stage = stage or app.node.try_get_context("stage") or DEFAULT_STAGE
    functions = read_function_manifests(functions_root, python=python, cwd=REPO_ROOT)
    stack = SoormaStack(
        app,
        naming.stack_name(stage),
        SoormaStackProps(stage=stage, functions=functions, **props),
        stack_name=naming.stack_name(stage),
    )
    if nag:
        enable_checks(app)
    return app, stack


#: Context keys `main` reads (`npx cdk deploy -c stage=prod -c powertools-layer-version=N`).
CONTEXT_KEYS = (
    "stage",
    "powertools-layer-version",
    "powertools-layer-arn",
    "archive-retention-days",
)


def props_from_context(app: App) -> dict[str, Any]:
    """`SoormaStackProps` values given as CDK context (see docs/deployment.md)."""
    context = app.node.try_get_context
    props: dict[str, Any] = {}
    layer_version, layer_arn = context("powertools-layer-version"), context("powertools-layer-arn")
    if layer_version is not None or layer_arn is not None:
        props["powertools"] = PowertoolsLayerProps(
            layer_version=None if layer_version is None else int(layer_version),
            arn=layer_arn or None,
        )
    if context("archive-retention-days") is not None:
        props["archive_retention_days"] = int(context("archive-retention-days"))
    front_door = front_door_from_context(context)  # infra.front_door.FRONT_DOOR_CONTEXT_KEYS
    if front_door is not None:
        props["front_door"] = front_door
    if any(context(key) is not None for key in STALL_SWEEP_CONTEXT_KEYS):
        props["stall_sweep"] = stall_sweep_from_context(context)
    return props


def main() -> None:
    """Synthesize the app of the `stage` context (`cdk synth --context stage=prod`)."""
    app = App()
    build_app(app=app, **props_from_context(app))
    app.synth()
