"""The `soorma` command line (typer + rich)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="soorma",
    help="Soorma Serverless: agents on AWS serverless, and a local cloud to run them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

#: Modules that add their commands to `app` when imported.
COMMAND_MODULES = (
    "soorma_dev.cli_local",
    "soorma_dev.cli_registry",
    "soorma_dev.cli_memory",
)


@app.callback()
def _root() -> None:
    """Soorma Serverless: agents on AWS serverless, and a local cloud to run them."""


@app.command("manifest")
def manifest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="function folders (functions/<name>) or handler files"),
    ] = None,
    scan: Annotated[
        Path | None,
        typer.Option(
            "--scan",
            help="also every folder under this one (e.g. functions/) whose handler defines an "
            "agent; folders whose handler defines none (platform functions) are skipped",
        ),
    ] = None,
) -> None:
    """Print the agents' manifests as a JSON list (CDK and the local cloud read this)."""
    import sys

    from soorma_dev.manifests import AgentNotFoundError, manifests_json, scan_agent_folders

    try:
        folders: list[str | Path] = list(paths or [])
        if scan is not None:
            folders += scan_agent_folders(scan)
        if not folders and scan is None:
            typer.echo("error: give function folders, or --scan FOLDER", err=True)
            sys.exit(2)
        typer.echo(manifests_json(folders))
    except AgentNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _load_command_modules() -> None:
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def main() -> None:
    """Entry point of the `soorma` script."""
    _load_command_modules()
    app()
