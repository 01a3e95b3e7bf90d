"""The `soorma` app: every command registered explicitly in `soorma_dev/cli/app.py`, reachable
from the console script and `python -m soorma_dev`, and the command modules kept small."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer

import soorma_dev.cli
from soorma_dev.cli import app, main

CLI = Path(soorma_dev.cli.__file__).parent
COMMANDS = ["manifest", "send", "trace", "input", "dev", "init", "events", "graph", "asyncapi"]
GROUPS = {"dlq": ["list", "show", "redrive"], "memory": ["forget"]}


def test_every_command_and_group_is_on_the_app_in_help_order() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    assert list(root.commands) == COMMANDS + list(GROUPS)
    for group, subcommands in GROUPS.items():
        command = root.commands[group]
        assert isinstance(command, typer.core.TyperGroup)
        assert sorted(command.commands) == sorted(subcommands)


def test_only_app_py_registers_commands() -> None:
    """No command module imports the app (so none can register itself as an import side
    effect); app.py imports every command module."""
    modules = {path.stem: ast.parse(path.read_text()) for path in CLI.glob("*.py")}
    for name, tree in modules.items():
        if name in ("app", "__init__"):
            continue
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "soorma_dev.cli"
            for alias in node.names
        }
        assert "app" not in imported, f"soorma_dev/cli/{name}.py imports the app"
    registered = {
        alias.name
        for node in ast.walk(modules["app"])
        if isinstance(node, ast.ImportFrom) and node.module == "soorma_dev.cli"
        for alias in node.names
    }
    assert registered == {
        "dead_letters",
        "dev",
        "local_cloud",
        "manifest",
        "memory",
        "registry",
        "scaffold",
    }


def test_the_console_script_is_the_cli_main() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "soorma"]
    assert script.value == "soorma_dev.cli:main"
    assert script.load() is main


def test_help_lists_every_command_through_python_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "soorma_dev", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in [*COMMANDS, *GROUPS]:
        assert f" {name} " in done.stdout


def test_no_cli_module_is_over_400_lines() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in CLI.glob("*.py")}
    assert max(sizes.values()) <= 400, sizes
