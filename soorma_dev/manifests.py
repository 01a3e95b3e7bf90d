"""Finding agents in `functions/<name>/handler.py` and reading their manifests.

`load_agent` imports an agent module (in the calling process: the manifest child process, a local
cloud worker); `read_manifests` runs `soorma manifest` in a child process and parses its JSON, so
the caller never imports agent code.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from soorma_common.manifest import AgentManifest

HANDLER_FILE = "handler.py"


class AgentNotFoundError(Exception):
    """A function folder whose handler module defines no agent (or more than one)."""


def handler_path(path: str | Path) -> Path:
    """The handler module of a function folder (or the file itself)."""
    path = Path(path)
    return path if path.suffix == ".py" else path / HANDLER_FILE


def function_folders(root: str | Path) -> list[Path]:
    """Folders under `root` (e.g. `functions/`) that have a handler module, sorted by name."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / HANDLER_FILE).is_file())


def import_handler_module(path: str | Path) -> ModuleType:
    """Import a function's handler module by path, with its folder first on `sys.path`."""
    file = handler_path(path).resolve()
    if not file.is_file():
        raise AgentNotFoundError(f"{file} does not exist: a function folder needs a {HANDLER_FILE}")
    folder = str(file.parent)
    name = f"soorma_function_{file.parent.name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.path.insert(0, folder)
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
        for added in set(sys.modules) - before - {name}:
            origin = getattr(sys.modules[added], "__file__", None) or ""
            if origin.startswith(folder):
                del sys.modules[added]  # siblings of one function must not shadow another's
    return module


def load_agent(path: str | Path) -> Any:
    """Import a function folder and return the one agent its handler module defines."""
    from soorma.agents.base import Agent

    module = import_handler_module(path)
    agents = {id(v): v for v in vars(module).values() if isinstance(v, Agent)}
    if len(agents) != 1:
        found = ", ".join(a.name for a in agents.values()) or "none"
        raise AgentNotFoundError(
            f"{handler_path(path)} must define exactly one agent at module level (found {found})"
        )
    return next(iter(agents.values()))


def find_agent(path: str | Path) -> Any | None:
    """The one agent a function folder's handler module defines, or None when it defines none.

    A module that defines more than one agent is an error (`AgentNotFoundError`), as in
    `load_agent`; a platform function that is not an agent (a custom resource) gives None.
    """
    from soorma.agents.base import Agent

    module = import_handler_module(path)
    agents = {id(v): v for v in vars(module).values() if isinstance(v, Agent)}
    if len(agents) > 1:
        found = ", ".join(a.name for a in agents.values())
        raise AgentNotFoundError(
            f"{handler_path(path)} must define exactly one agent at module level (found {found})"
        )
    return next(iter(agents.values()), None)


def scan_agent_folders(root: str | Path) -> list[Path]:
    """The function folders under `root` whose handler module defines an agent, sorted by name.

    Imports each handler module in this process (call it in a child process, as
    `soorma manifest --scan` does).
    """
    root = Path(root)
    if not root.is_dir():
        return []
    return [folder for folder in function_folders(root) if find_agent(folder) is not None]


def is_agent_folder(path: str | Path) -> bool:
    """Whether the folder's handler module defines an agent (checked in this process)."""
    try:
        load_agent(path)
    except AgentNotFoundError:
        return False
    return True


def manifests_json(paths: list[str | Path]) -> str:
    """The manifests of the agents in `paths` as a JSON list (what `soorma manifest` prints)."""
    records = []
    for path in paths:
        agent = load_agent(path)
        record = agent.manifest().model_dump(mode="json")
        record["path"] = str(Path(path))
        records.append(record)
    return json.dumps(records, indent=2, sort_keys=True)


def read_manifests(
    paths: Sequence[str | Path],
    *,
    scan: str | Path | None = None,
    python: str | None = None,
) -> list[AgentManifest]:
    """Run `soorma manifest PATH... [--scan FOLDER]` in a child process and parse the manifests
    it prints: the agents of `paths` (function folders or handler files), then those of every
    folder under `scan` whose handler defines an agent (platform functions skipped)."""
    if not paths and scan is None:
        return []
    command = [python or sys.executable, "-m", "soorma_dev", "manifest", *map(str, paths)]
    if scan is not None:
        command += ["--scan", str(scan)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AgentNotFoundError(f"`soorma manifest` failed:\n{done.stderr.strip()}")
    return [AgentManifest.model_validate(r) for r in json.loads(done.stdout)]
