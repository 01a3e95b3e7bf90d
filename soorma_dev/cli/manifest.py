"""`soorma manifest`: the agents' manifests as a JSON list (CDK and the local cloud read this)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


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
