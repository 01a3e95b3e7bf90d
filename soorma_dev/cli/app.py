"""The `soorma` typer app: every command and command group, registered here explicitly.

A command module defines its commands as plain functions (or, for a group, a `typer.Typer` of
its own); nothing registers itself when imported. The order below is the order of `soorma --help`.
"""

from __future__ import annotations

import typer

from soorma_dev.cli import dead_letters, dev, local_cloud, manifest, memory, registry, scaffold

app = typer.Typer(
    name="soorma",
    help="Soorma Serverless: agents on AWS serverless, and a local cloud to run them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Soorma Serverless: agents on AWS serverless, and a local cloud to run them."""


# the agents' manifests (manifest.py)
app.command("manifest")(manifest.manifest)
# the local cloud (local_cloud.py, dev.py)
app.command("send")(local_cloud.send)
app.command("trace")(local_cloud.trace)
app.command("input")(local_cloud.provide_input)
app.command("dev", help=dev.DEV_HELP)(dev.dev)
# scaffolding (scaffold.py)
app.command("init")(scaffold.init)
# the event contract as documents (registry.py)
app.command("events")(registry.events)
app.command("graph")(registry.graph)
app.command("asyncapi")(registry.asyncapi)
# command groups: dead letters (dead_letters.py), memory (memory.py)
app.add_typer(dead_letters.dlq_app, name="dlq")
app.add_typer(memory.memory_app, name="memory")


def main() -> None:
    """Entry point of the `soorma` script (and of `python -m soorma_dev`)."""
    app()
