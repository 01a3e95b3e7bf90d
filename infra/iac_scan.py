"""Synthesize every example app for the IaC scanner (`make iac-scan`), offline.

`python -m infra.iac_scan OUTDIR` synthesizes one cloud assembly per example folder of
`examples/` (the folders holding agents), with cdk-nag on, as `cdk synth` would, and copies its
templates to `OUTDIR/<example>/`; checkov then scans them (`.checkov.yaml` says which checks are
skipped and why). The copies drop the hex hash CDK appends to a nested stack's file name:
checkov's secret check (CKV_AWS_45) reads a template's own path and takes some hashes for
secrets (`B4955E35`).
No AWS call is made: the stacks are environment-agnostic and the Powertools layer is the
parameter of `infra.powertools`.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from aws_cdk import App

from infra.app import build_app
from infra.paths import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"


def example_folders(root: Path = EXAMPLES) -> list[Path]:
    """The example folders that hold at least one agent (a sub-folder with `handler.py`)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*/handler.py")))


_HASH = re.compile(r"[0-9A-F]{8}(?=\.nested\.template\.json$)")


def synthesize_examples(outdir: Path) -> list[Path]:
    """Synthesize each example and copy its templates to `outdir/<example>`; return them."""
    templates: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="soorma-synth-") as assemblies:
        for folder in example_folders():
            assembly = Path(assemblies) / folder.name
            app, _ = build_app(functions_root=folder, app=App(outdir=str(assembly)))
            app.synth()
            target = outdir / folder.name
            target.mkdir(parents=True, exist_ok=True)
            for template in sorted(assembly.glob("*.template.json")):
                copy = target / _HASH.sub("", template.name)
                shutil.copyfile(template, copy)
                templates.append(copy)
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
