"""Finding the running local cloud: the `--state-dir` option and a client of the cloud there."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # pragma: no cover
    from soorma_dev.localcloud import LocalCloudClient

DEFAULT_STATE_DIR = Path(".soorma")


def state_dir_is_a_folder(value: Path) -> Path:
    """`--state-dir` must be a folder (or not exist yet): a file is a one-line error."""
    from soorma_dev.cli.errors import CommandError, fail
    from soorma_dev.cli.parsing import check_folder

    try:
        return check_folder("--state-dir", value)
    except CommandError as error:
        fail(error)


StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        envvar="SOORMA_STATE_DIR",
        help="where `soorma dev` writes the state file other terminals read",
        callback=state_dir_is_a_folder,
    ),
]


def connect(state_dir: Path) -> LocalCloudClient:
    """A client of the local cloud running with `state_dir` (raises `LocalCloudNotRunning`)."""
    from soorma_dev.localcloud import LocalCloudClient

    return LocalCloudClient.connect(state_dir=state_dir)
