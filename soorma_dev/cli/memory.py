"""`soorma memory forget`: the right to be forgotten, for operators (not reachable by handlers)."""

from __future__ import annotations

import typer

memory_app = typer.Typer(help="Operate on the memory table (plans, sessions, working memory).")


@memory_app.command("forget")
def forget(
    tenant: str = typer.Option(..., "--tenant", help="the tenant whose items are deleted"),
    user: str | None = typer.Option(None, "--user", help="only this user's items"),
    stage: str = typer.Option("dev", "--stage", envvar="SOORMA_STAGE", help="stage (table name)"),
    table: str | None = typer.Option(None, "--table", help="table name (default: the stage's)"),
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", envvar="AWS_ENDPOINT_URL", help="DynamoDB endpoint (local cloud)"
    ),
) -> None:
    """Delete every memory item of a tenant, or of one user of a tenant, and say how many."""
    import boto3

    from soorma.memory import MemoryEraser
    from soorma.memory.table import MemoryTable
    from soorma_common.naming import table_name

    name = table or table_name(stage, "memory")
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    eraser = MemoryEraser(MemoryTable(name, ttl_seconds=0, client=client))
    deleted, cursor = 0, None
    while True:
        if user:
            progress = eraser.forget_user(tenant, user, cursor=cursor)
        else:
            progress = eraser.forget_tenant(tenant, cursor=cursor)
        deleted += progress.deleted
        cursor = progress.cursor
        if progress.done:
            break
    whose = f"user {user!r} of tenant {tenant!r}" if user else f"tenant {tenant!r}"
    typer.echo(f"deleted {deleted} item(s) of {whose} from {name}")
