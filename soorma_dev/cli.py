"""The `soorma` command line (typer + rich)."""

from __future__ import annotations

import importlib
from pathlib import Path

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
)


@app.callback()
def _root() -> None:
    """Soorma Serverless: agents on AWS serverless, and a local cloud to run them."""


@app.command("manifest")
def manifest(
    paths: list[Path] = typer.Argument(..., help="function folders (functions/<name>) or handler files"),
) -> None:
    """Print the agents' manifests as a JSON list (CDK and the local cloud read this)."""
    import sys

    from soorma_dev.manifests import AgentNotFoundError, manifests_json

    try:
        typer.echo(manifests_json(list(paths)))
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
