"""`soorma init`: a new agent folder (handler.py and a test that passes) from a template."""

from __future__ import annotations

import string
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from soorma_dev.cli.errors import CommandError, reported_errors
from soorma_dev.cli.output import console
from soorma_dev.cli.parsing import check_folder

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class AgentTemplateKind(StrEnum):
    """The kinds of agent `soorma init` can create."""

    WORKER = "worker"
    TOOL = "tool"
    PLANNER = "planner"


def render_agent(name: str, kind: AgentTemplateKind) -> dict[str, str]:
    """The files of a new agent folder: file name -> content."""
    from soorma_common.naming import check_agent_name

    try:
        check_agent_name(name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    module = name.replace("-", "_")
    values = {"name": name, "event": name, "module": module}
    folder = TEMPLATES / kind.value
    return {
        "handler.py": string.Template((folder / "handler.py.tmpl").read_text()).substitute(values),
        f"test_{module}.py": string.Template(
            (folder / "test_agent.py.tmpl").read_text()
        ).substitute(values),
    }


def init(
    name: Annotated[
        str, typer.Argument(help="the agent's name (lowercase letters, digits, hyphens)")
    ],
    kind: Annotated[AgentTemplateKind, typer.Option("--kind", "-k", help="what sort of agent")],
    directory: Annotated[
        Path, typer.Option("--dir", help="where agent folders live (created if missing)")
    ] = Path("functions"),
) -> None:
    """Create a new agent folder: handler.py and a test that passes."""
    with reported_errors():
        check_folder("--dir", directory)
        files = render_agent(name, kind)
        folder = directory / name
        if folder.exists() and any(folder.iterdir()):
            raise CommandError(
                f"{folder} already exists and is not empty",
                hint="pick another name, or --dir for another place",
            )
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, content in files.items():
            (folder / file_name).write_text(content)
    console.print(f"[green]created[/] {kind.value} {name!r} in {folder}/")
    for file_name in files:
        console.print(f"  {folder / file_name}")
    console.print(f"[dim]next:[/] pytest {folder}   then   soorma dev {directory}")
