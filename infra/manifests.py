"""Agent manifests for the CDK app, read from a child process (`soorma manifest --scan`).

The CDK process never imports agent code: a child Python process imports each
`functions/<name>/handler.py`, prints the manifests as JSON, and this module parses them with
`soorma_common.manifest.AgentManifest`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from soorma_common.manifest import AgentKind, AgentManifest

#: The repository root (the folder holding `app.py`, `infra/` and `soorma_dev/`).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The folder of the `soorma_common` layer (its `python/` dir holds `soorma_common` and `soorma`).
LAYER_ROOT = REPO_ROOT / "layers" / "soorma_common"


class ManifestReadError(RuntimeError):
    """`soorma manifest` failed in the child process (its stderr is in the message)."""


@dataclass(frozen=True)
class FunctionManifest:
    """One agent found under `functions/`: its manifest and its folder (the Lambda asset)."""

    manifest: AgentManifest
    path: Path

    @property
    def is_platform(self) -> bool:
        """Whether the agent is one of the platform's own (`kind="platform"`, e.g. the event
        log); decided by kind, never by name."""
        return self.manifest.kind is AgentKind.PLATFORM


def read_function_manifests(
    functions_root: str | Path, *, python: str | None = None
) -> list[FunctionManifest]:
    """The agents under `functions_root`, sorted by name, read by `soorma manifest --scan`.

    `python` is the interpreter of the child process (default: this one, i.e. the venv's).
    Folders whose handler defines no agent (platform functions such as custom resources) are
    skipped; a missing `functions_root` gives no agents.
    """
    root = Path(functions_root).resolve()
    if not root.is_dir():
        return []
    command = [python or sys.executable, "-m", "soorma_dev", "manifest", "--scan", str(root)]
    env = dict(os.environ)
    extra = [str(REPO_ROOT), str(LAYER_ROOT / "python")]
    env["PYTHONPATH"] = os.pathsep.join([*extra, *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=REPO_ROOT, env=env
    )
    if done.returncode != 0:
        raise ManifestReadError(
            f"`soorma manifest --scan {root}` failed (exit {done.returncode}):\n"
            f"{done.stderr.strip()}"
        )
    found = [
        FunctionManifest(AgentManifest.model_validate(record), Path(record["path"]))
        for record in json.loads(done.stdout)
    ]
    names = [f.manifest.name for f in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ManifestReadError(f"two function folders define the same agent: {duplicates}")
    return sorted(found, key=lambda f: f.manifest.name)
