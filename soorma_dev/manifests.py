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
from soorma_common.manifest import AgentKind, AgentManifest

__all__ = [
    "HANDLER_FILE",
    "AgentNotFoundError",
    "agents_to_run",
    "agents_under",
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


def agents_under(root: str | Path) -> list[Path]:
    """The folders under `root` whose handler module defines an agent, sorted by name, read in
    one child process (as `soorma manifest --scan`): platform functions that are not agents
    (`functions/registry_sync`) are skipped; a handler that fails to import is an error."""
    try:
        found = read_function_manifests([], scan=root)
    except ManifestReadError as exc:
        raise AgentNotFoundError(str(exc)) from exc
    return [f.path for f in found]


def agents_to_run(
    manifests: Sequence[AgentManifest], paths: Sequence[Path], platform: Sequence[Path]
) -> list[tuple[AgentManifest, Path]]:
    """The agents to run, each with its folder: a platform function given among the agents
    (`functions/event_log` of a checkout, or a copy of it: an agent of kind `platform` with the
    platform function's name) replaces the packaged one. Raise `ValueError` if two agents share
    a name, or an agent that is not a platform function takes a platform function's name
    (`event-log`): one would silently replace the other's queues and rules."""
    platform_folders = {p.resolve() for p in platform}
    pairs = list(zip(manifests, paths, strict=True))
    given = [(m, p) for m, p in pairs if p.resolve() not in platform_folders]
    packaged = {m.name: (m, p) for m, p in pairs if p.resolve() in platform_folders}
    seen: dict[str, Path] = {}
    for manifest, path in given:
        if manifest.name in packaged and manifest.kind != AgentKind.PLATFORM:
            raise ValueError(
                f"agent name {manifest.name!r} (in {path}) is reserved for the platform's own "
                f"function; rename the agent (Agent(name=...)) in {path}"
            )
        if manifest.name in seen:
            raise ValueError(
                f"two agents are named {manifest.name!r}: {seen[manifest.name]} and {path}; "
                "agent names must be unique, rename one of them"
            )
        seen[manifest.name] = path
    return given + [pair for name, pair in packaged.items() if name not in seen]
