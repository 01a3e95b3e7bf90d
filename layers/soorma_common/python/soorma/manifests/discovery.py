"""Finding the agent of a function folder: `<folder>/handler.py` defines exactly one `Agent` at
module level (platform functions such as custom resources define none).

These import agent code into the calling process: call them in a child process (the manifest
producer, a local-cloud worker) or where importing the agent is the point (tests, harnesses).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from soorma.agents import Agent

#: The module of a function folder that defines its agent and Lambda handler.
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
    """Import a function's handler module by path, with its folder first on `sys.path`.

    Modules the handler imports from its own folder are dropped from `sys.modules` afterwards,
    so that two functions' sibling modules of the same name never shadow each other.
    """
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
                del sys.modules[added]
    return module


def module_agent(module: ModuleType, path: str | Path) -> Agent | None:
    """The one agent `module` defines at module level, or None when it defines none.

    More than one is an `AgentNotFoundError` naming them (`path` says where, in the message).
    """
    agents = list({id(v): v for v in vars(module).values() if isinstance(v, Agent)}.values())
    if len(agents) > 1:
        found = ", ".join(a.name for a in agents)
        raise AgentNotFoundError(
            f"{handler_path(path)} must define exactly one agent at module level (found {found})"
        )
    return agents[0] if agents else None


def find_agent(path: str | Path) -> Agent | None:
    """The one agent a function folder's handler module defines, or None when it defines none
    (a platform function that is not an agent, e.g. a custom resource)."""
    return module_agent(import_handler_module(path), path)


def load_agent(path: str | Path) -> Agent:
    """Import a function folder and return the one agent its handler module defines."""
    agent = find_agent(path)
    if agent is None:
        raise AgentNotFoundError(
            f"{handler_path(path)} must define exactly one agent at module level (found none)"
        )
    return agent


#: A Lambda handler: `(event, context) -> response`.
LambdaHandler = Callable[[dict[str, Any], Any], Any]


def load_handler(path: str | Path) -> tuple[Agent, LambdaHandler]:
    """The agent of a function folder and the callable Lambda would invoke: the module's
    `handler` if it defines one (the `handler.handler` of the manifest), else the agent's
    `lambda_handler`."""
    module = import_handler_module(path)
    agent = module_agent(module, path)
    if agent is None:
        raise AgentNotFoundError(
            f"{handler_path(path)} must define exactly one agent at module level (found none)"
        )
    handler: LambdaHandler = getattr(module, "handler", agent.lambda_handler)
    return agent, handler


def scan_agent_folders(root: str | Path) -> list[Path]:
    """The function folders under `root` whose handler module defines an agent, sorted by name
    (a missing `root` has none). Imports every handler module in this process."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [folder for folder in function_folders(root) if find_agent(folder) is not None]
