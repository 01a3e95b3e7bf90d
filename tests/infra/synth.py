"""Synthesizing a test app into a folder and reading back every template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Synthesized:
    """One synthesized app: the stack object, the assembly folder and every template."""

    app: Any
    stack: Any
    outdir: Path
    root: dict[str, Any]
    nested: dict[str, dict[str, Any]]  # agent name -> its nested stack's template

    def templates(self) -> list[dict[str, Any]]:
        """The root template and every nested one."""
        return [self.root, *self.nested.values()]

    def template_files(self) -> list[Path]:
        """The template files in the assembly."""
        return sorted(self.outdir.glob("*.template.json"))


def synthesize(
    functions_root: Path, outdir: Path, *, stage: str = "dev", **props: Any
) -> Synthesized:
    """Build the app from `functions_root` and synthesize it into `outdir` (cdk-nag on)."""
    from aws_cdk import App

    from infra import build_app

    app, stack = build_app(
        functions_root=functions_root, stage=stage, app=App(outdir=str(outdir)), **props
    )
    app.synth()
    root = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
    nested = {
        name: json.loads((outdir / agent_stack.template_file).read_text())
        for name, agent_stack in stack.agents.items()
    }
    return Synthesized(app, stack, outdir, root, nested)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one type in a template, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}
