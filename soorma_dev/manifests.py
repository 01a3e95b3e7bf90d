"""The dev tools' names for the SDK's manifest functions (`soorma.manifests`).

`soorma manifest` prints what `python -m soorma.manifests` prints; `read_manifests` is the SDK's
reader (one child process) returning bare manifests, and raises `AgentNotFoundError` when the
child fails, as the dev tools' callers expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from soorma.manifests import (
    HANDLER_FILE,
    AgentNotFoundError,
    ManifestReadError,
    find_agent,
    function_folders,
    handler_path,
    import_handler_module,
    load_agent,
    load_handler,
    manifests_json,
    scan_agent_folders,
)
from soorma.manifests import read_manifests as read_function_manifests
from soorma_common.manifest import AgentManifest

__all__ = [
    "HANDLER_FILE",
    "AgentNotFoundError",
    "find_agent",
    "function_folders",
    "handler_path",
    "import_handler_module",
    "load_agent",
    "load_handler",
    "manifests_json",
    "read_manifests",
    "scan_agent_folders",
]


def read_manifests(
    paths: Sequence[str | Path],
    *,
    scan: str | Path | None = None,
    python: str | None = None,
) -> list[AgentManifest]:
    """The manifests of the agents of `paths` (function folders or handler files), then of
    every folder under `scan` whose handler defines an agent, read in one child process."""
    try:
        found = read_function_manifests(paths, scan=scan, python=python)
    except ManifestReadError as exc:
        raise AgentNotFoundError(str(exc)) from exc
    return [f.manifest for f in found]
