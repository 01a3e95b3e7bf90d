"""Synthesize every example app for the IaC scanner (`make iac-scan`), offline.

`python -m infra.iac_scan OUTDIR` writes one cloud assembly per example folder of `examples/`
(the folders holding agents) under `OUTDIR/<example>/`, with cdk-nag on, as `cdk synth` would;
checkov then scans the templates (`.checkov.yaml` says which checks are skipped and why).
No AWS call is made: the stacks are environment-agnostic and the Powertools layer is the
parameter of `infra.powertools`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aws_cdk import App

from infra.app import build_app
from infra.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"


def example_folders(root: Path = EXAMPLES) -> list[Path]:
    """The example folders that hold at least one agent (a sub-folder with `handler.py`)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*/handler.py")))


def synthesize_examples(outdir: Path) -> list[Path]:
    """Synthesize each example into `outdir/<example>`; return the template files written."""
    templates: list[Path] = []
    for folder in example_folders():
        target = outdir / folder.name
        app, _ = build_app(functions_root=folder, app=App(outdir=str(target)))
        app.synth()
        templates += sorted(target.glob("*.template.json"))
    return templates


def main(argv: list[str]) -> int:
    """`python -m infra.iac_scan OUTDIR`."""
    if len(argv) != 1:
        print("usage: python -m infra.iac_scan OUTDIR", file=sys.stderr)
        return 2
    templates = synthesize_examples(Path(argv[0]))
    print(f"synthesized {len(templates)} templates of {len(example_folders())} examples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
