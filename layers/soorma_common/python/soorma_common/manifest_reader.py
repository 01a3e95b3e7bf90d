"""The manifest reader: runs the producer (`python -m soorma.manifests`, in the SDK) in a child
process and parses what it prints with `soorma_common.manifest.AgentManifest`.

The one way the CDK app (`infra`) and the dev tools (`soorma_dev`) read manifests. It lives in
the contract package so that the calling process imports neither agent code nor the runtime
(`soorma`): only the child does, and only the layer (`soorma`, `soorma_common`) need be installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from soorma_common.manifest import AgentKind, AgentManifest

#: The folder `soorma_common` (and `soorma` beside it) is imported from: the layer's `python/`,
#: or site-packages. First on the child's PYTHONPATH, so the child runs the same SDK.
SDK_ROOT = Path(__file__).resolve().parents[1]
#: The producer, as `python -m` runs it.
PRODUCER_MODULE = "soorma.manifests"


class ManifestReadError(RuntimeError):
    """The producer failed in the child process (its stderr is in the message), or two
    function folders define the same agent."""


@dataclass(frozen=True)
class FunctionManifest:
    """One agent found in a function folder: its manifest and its folder (the Lambda asset)."""

    manifest: AgentManifest
    path: Path

    @property
    def is_platform(self) -> bool:
        """Whether the agent is one of the platform's own (`kind="platform"`, e.g. the event
        log); decided by kind, never by name."""
        return self.manifest.kind is AgentKind.PLATFORM


def read_manifests(
    paths: Sequence[str | Path] = (),
    *,
    scan: str | Path | None = None,
    python: str | None = None,
    cwd: str | Path | None = None,
) -> list[FunctionManifest]:
    """The agents of `paths` (function folders or handler files), then those of every folder
    under `scan` whose handler defines an agent (platform functions skipped), in that order.

    One child process runs the producer with `python` (default: this interpreter) in `cwd`
    (default: this process's). No paths and no `scan` reads nothing and starts no process.
    """
    if not paths and scan is None:
        return []
    arguments = [str(p) for p in paths]
    if scan is not None:
        arguments += ["--scan", str(scan)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SDK_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        [python or sys.executable, "-m", PRODUCER_MODULE, *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
    )
    if done.returncode != 0:
        raise ManifestReadError(
            f"`python -m {PRODUCER_MODULE} {' '.join(arguments)}` failed "
            f"(exit {done.returncode}):\n{done.stderr.strip()}"
        )
    return [
        FunctionManifest(AgentManifest.model_validate(record), Path(record["path"]))
        for record in json.loads(done.stdout)
    ]


def read_function_manifests(
    functions_root: str | Path, *, python: str | None = None, cwd: str | Path | None = None
) -> list[FunctionManifest]:
    """The agents under `functions_root` (e.g. `functions/`), sorted by name, with their
    folders resolved; a missing root has none. Two folders defining the same agent is a
    `ManifestReadError`."""
    root = Path(functions_root).resolve()
    if not root.is_dir():
        return []
    found = read_manifests(scan=root, python=python, cwd=cwd)
    names = [f.manifest.name for f in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ManifestReadError(f"two function folders define the same agent: {duplicates}")
    return sorted(found, key=lambda f: f.manifest.name)
