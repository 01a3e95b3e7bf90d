"""`soorma manifest`: the agents' manifests as a JSON list (CDK and the local cloud read this).

An agent folder that cannot be read (a syntax error, an import error, an invalid agent name,
an unknown topic, two handlers for one event) is one line on stderr naming the folder, the
file and line, and the error, then exit 2; never a traceback.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from soorma_dev.cli.errors import CommandError, reported_errors


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
    with reported_errors():
        folders: list[Path] = list(paths or [])
        if scan is not None:
            folders += scanned_agent_folders(scan)
        if not folders and scan is None:
            raise CommandError(
                "give function folders, or --scan FOLDER",
                hint="e.g. soorma manifest functions/billing, or soorma manifest --scan functions",
            )
        records: list[object] = []
        for folder in folders:
            records += json.loads(folder_manifest_json(folder))
    typer.echo(json.dumps(records, indent=2, sort_keys=True))


def scanned_agent_folders(root: Path) -> list[Path]:
    """The agent folders under `root` (those whose handler defines none are skipped)."""
    from soorma_dev.manifests import find_agent, function_folders

    if root.exists() and not root.is_dir():
        raise CommandError(f"--scan {root} is a file, not a folder", hint="give functions/")
    found = []
    for folder in function_folders(root) if root.is_dir() else []:
        with unreadable_agent(folder):
            if find_agent(folder) is not None:
                found.append(folder)
    return found


def folder_manifest_json(folder: Path) -> str:
    """The JSON list of one folder's manifest (`manifests_json`), errors as `CommandError`."""
    from soorma_dev.manifests import manifests_json

    if not folder.exists():
        raise CommandError(f"{folder} does not exist", hint="give an agent folder or handler.py")
    with unreadable_agent(folder):
        return manifests_json([folder])


@contextmanager
def unreadable_agent(folder: Path) -> Iterator[None]:
    """Turn any error importing or describing the agent of `folder` into a `CommandError`
    naming the folder, where the error was raised in the agent's code, and the error."""
    try:
        yield
    except CommandError:
        raise
    except Exception as exc:
        raise CommandError(
            f"{folder}: {_where(exc, folder)}{type(exc).__name__}: {_first_line(exc)}",
            hint="fix the agent's handler.py; `soorma manifest` imports it as Lambda would",
        ) from None


def _first_line(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):  # its first line only names the model
        return "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _where(exc: BaseException, folder: Path) -> str:
    """`handler.py line 3: ` for the deepest frame in the agent's folder (or a syntax error's
    position), else ''."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{Path(exc.filename).name} line {exc.lineno}: "
    root = str(folder.resolve() if folder.is_dir() else folder.resolve().parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(root)]
    if not frames:
        return ""
    return f"{Path(frames[-1].filename).name} line {frames[-1].lineno}: "
