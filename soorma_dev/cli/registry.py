"""`soorma events`, `soorma graph`, `soorma asyncapi`: the event contract as documents.

Each reads either the manifests of function folders (offline, `soorma events functions/`) or a
running registry table (no path): the running local cloud's, found by itself as `soorma send`
finds it, else the one at `--endpoint-url` / `AWS_ENDPOINT_URL`, else the stage's table on AWS
(`--table` / `SOORMA_REGISTRY_TABLE` names another); see `dynamodb_target.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from soorma.registry import Catalog
from soorma_common.manifest import AgentManifest
from soorma_dev.cli.connection import DEFAULT_STATE_DIR, StateDir
from soorma_dev.cli.errors import CommandError, reported_errors

PATHS_HELP = "function folders (functions/<name>) or folders of them; none: read the registry"
PathsArgument = typer.Argument(None, help=PATHS_HELP, show_default=False)
EndpointOption = typer.Option(
    None, "--endpoint-url", envvar="AWS_ENDPOINT_URL", help="DynamoDB endpoint (local cloud)"
)
TableOption = typer.Option(
    None, "--table", envvar="SOORMA_REGISTRY_TABLE", help="registry table name"
)
OutputOption = typer.Option(None, "--output", "-o", help="file (default: stdout)")
StageOption = typer.Option("dev", "--stage", envvar="SOORMA_STAGE", help="stage (table name)")


def read_all_manifests(paths: list[Path]) -> list[AgentManifest]:
    """The manifests of function folders, and of every agent folder under the other paths
    (`soorma manifest --scan`: platform functions skipped), read in a child process."""
    from soorma_dev.manifests import HANDLER_FILE, read_manifests

    folders = [p for p in paths if p.suffix == ".py" or (p / HANDLER_FILE).is_file()]
    roots = [p for p in paths if p not in folders]
    for root in roots:
        if not root.is_dir():
            raise CommandError(
                f"{root} is neither a function folder nor a folder of them",
                hint="give agent folders (functions/billing) or folders of them (functions/)",
            )
    if not roots:
        return read_manifests(folders)
    # `--scan` takes one folder: one child process per folder of functions
    found = read_manifests(folders, scan=roots[0])
    for root in roots[1:]:
        found += read_manifests([], scan=root)
    return found


def catalog_from_manifests(paths: list[Path]) -> Catalog:
    """The catalog the manifests declare (agent code is imported in a child process only)."""
    return Catalog.from_manifests(read_all_manifests(paths))


def catalog_from_registry(
    endpoint_url: str | None, table: str | None, stage: str, state_dir: Path = DEFAULT_STATE_DIR
) -> Catalog:
    """The catalog a running registry holds (the local cloud's when one runs)."""
    from soorma.registry.table import RegistryTable
    from soorma_dev.cli.dynamodb_target import DynamoTarget, dynamodb_errors

    with dynamodb_errors():
        target = DynamoTarget.find(
            "registry", endpoint_url=endpoint_url, table=table, stage=stage, state_dir=state_dir
        )
    with dynamodb_errors(target):
        return RegistryTable(target.table, dynamodb=target.client).catalog()


def load_catalog(
    paths: list[Path] | None,
    endpoint_url: str | None,
    table: str | None,
    stage: str,
    state_dir: Path = DEFAULT_STATE_DIR,
) -> Catalog:
    """Offline from `paths`, else from the registry."""
    from soorma_dev.manifests import AgentNotFoundError

    if paths:
        try:
            return catalog_from_manifests(paths)
        except AgentNotFoundError as exc:
            raise CommandError(
                str(exc), hint="each agent folder needs a handler.py that defines one agent"
            ) from None
    return catalog_from_registry(endpoint_url, table, stage, state_dir)


def events_table(catalog: Catalog) -> Table:
    """The rich table of `soorma events`."""
    table = Table(title="Soorma events", show_lines=False)
    for column in ("event", "topic", "version", "producers", "consumers", "schema", "description"):
        table.add_column(column, overflow="fold")
    for name in catalog.event_names():
        record = catalog.events.get(name)
        topic = catalog.topic_of(name)
        table.add_row(
            name,
            topic.value if topic else "-",
            str(record.version) if record else "-",
            ", ".join(catalog.producers_of(name)) or "-",
            ", ".join(catalog.consumers_of(name)) or "-",
            "yes" if record and record.payload_schema else "no",
            record.description if record else "",
        )
    return table


def events(
    paths: list[Path] | None = PathsArgument,
    endpoint_url: str | None = EndpointOption,
    table: str | None = TableOption,
    stage: str = StageOption,
    as_json: bool = typer.Option(False, "--json", help="print the catalog as JSON"),
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """List events with their topics, producers and consumers."""
    with reported_errors():
        catalog = load_catalog(paths, endpoint_url, table, stage, state_dir)
    if as_json:
        typer.echo(catalog.model_dump_json(indent=2))
        return
    Console(width=160).print(events_table(catalog))


def graph(
    paths: list[Path] | None = PathsArgument,
    endpoint_url: str | None = EndpointOption,
    table: str | None = TableOption,
    stage: str = StageOption,
    fmt: str = typer.Option("mermaid", "--format", help="mermaid, dot, svg or png"),
    output: Path | None = OutputOption,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Draw the agent/event flow (Mermaid text; SVG/PNG with Graphviz's `dot`)."""
    from soorma_dev.graph import GraphvizNotFoundError, dot_graph, mermaid_graph, render

    with reported_errors():
        catalog = load_catalog(paths, endpoint_url, table, stage, state_dir)
    if fmt == "mermaid":
        content: bytes = mermaid_graph(catalog).encode()
    elif fmt == "dot":
        content = dot_graph(catalog).encode()
    elif fmt in ("svg", "png"):
        try:
            content = render(dot_graph(catalog), fmt)
        except GraphvizNotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    else:
        raise typer.BadParameter(f"unknown format {fmt!r}: use mermaid, dot, svg or png")
    if output is not None:
        output.write_bytes(content)
    else:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()


def asyncapi(
    paths: list[Path] | None = PathsArgument,
    endpoint_url: str | None = EndpointOption,
    table: str | None = TableOption,
    stage: str = StageOption,
    title: str = typer.Option("Soorma event bus", help="info.title"),
    version: str = typer.Option("1.0.0", help="info.version of the document"),
    output: Path | None = OutputOption,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Write the AsyncAPI 3.0 document of the bus (JSON): channels = topics, messages = events."""
    from soorma_dev.asyncapi import asyncapi_document

    with reported_errors():
        catalog = load_catalog(paths, endpoint_url, table, stage, state_dir)
    text = json.dumps(asyncapi_document(catalog, title=title, version=version), indent=2)
    if output is not None:
        output.write_text(text + "\n")
    else:
        typer.echo(text)
