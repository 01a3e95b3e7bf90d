"""Finding the running local cloud: the `--state-dir` option and a client of the cloud there."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # pragma: no cover
    from soorma_dev.localcloud import LocalCloudClient

DEFAULT_STATE_DIR = Path(".soorma")

StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        envvar="SOORMA_STATE_DIR",
        help="where `soorma dev` writes the state file other terminals read",
    ),
]


def connect(state_dir: Path) -> LocalCloudClient:
    """A client of the local cloud running with `state_dir` (raises `LocalCloudNotRunning`)."""
    from soorma_dev.localcloud import LocalCloudClient

    return LocalCloudClient.connect(state_dir=state_dir)
