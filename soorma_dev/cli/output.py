"""Where the CLI prints: rich consoles for people (stdout, stderr) and plain JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer
from rich.console import Console

#: Output that is not a terminal (a log, CI, a pipe) gets wide lines instead of 80 columns.
WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 132
console = Console(highlight=False, width=WIDTH)
error_console = Console(stderr=True, highlight=False, width=WIDTH)


def print_json(value: Any) -> None:
    """Print `value` as JSON on stdout (no colours, for scripts)."""
    typer.echo(json.dumps(value, indent=2, default=str))
