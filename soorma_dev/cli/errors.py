"""Errors a person at the terminal can act on: one line (and a hint), then a documented exit code.

Exit codes: 0 done; 1 the work failed (a scenario's expectations unmet, nothing found);
2 bad input (JSON, topic, path, name); 3 no local cloud is running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.markup import escape

from soorma_common.errors import UnknownTopicError
from soorma_dev.cli.output import error_console
from soorma_dev.scenarios import ScenarioError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_RUNNING = 3


class CommandError(Exception):
    """An error the person at the terminal can fix: printed as one line, then exit `code`."""

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def fail(error: CommandError) -> NoReturn:
    """Print `error` (and its hint) on stderr and exit with its code. Both are plain text: a
    `[dev]` in them (a pip extra, a value given) is printed, not taken as rich markup."""
    error_console.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
    if error.hint:
        error_console.print(f"[dim]hint:[/] {escape(error.hint)}", soft_wrap=True)
    raise typer.Exit(error.code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn `CommandError` and the local cloud's known failures into one-line errors."""
    try:
        yield
    except CommandError as error:
        fail(error)
    except (ScenarioError, UnknownTopicError) as exc:
        fail(CommandError(str(exc)))
    except Exception as exc:
        not_running = _not_running_error(exc)
        if not_running is None:
            raise
        fail(not_running)


def _not_running_error(exc: Exception) -> CommandError | None:
    """The error to show when `exc` means that no local cloud answers, else None."""
    from botocore.exceptions import EndpointConnectionError

    from soorma_dev.localcloud import LocalCloudNotRunning

    if isinstance(exc, LocalCloudNotRunning | EndpointConnectionError):
        reason = str(exc)
        if not reason.startswith("no local cloud is running"):
            reason = f"no local cloud is running: {reason}"
        return CommandError(
            reason,
            hint="start one in another terminal with `soorma dev [PATH]` in this folder, "
            "or point --state-dir (SOORMA_STATE_DIR) at the .soorma folder of the one running",
            code=EXIT_NOT_RUNNING,
        )
    return None
