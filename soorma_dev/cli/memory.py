"""`soorma memory forget`: the right to be forgotten, for operators (not reachable by handlers)."""

from __future__ import annotations

from typing import Any

import typer

from soorma_dev.cli.connection import DEFAULT_STATE_DIR, StateDir
from soorma_dev.cli.dynamodb_target import DynamoTarget, dynamodb_errors
from soorma_dev.cli.errors import reported_errors
from soorma_dev.cli.parsing import check_identifier

memory_app = typer.Typer(help="Operate on the memory table (plans, sessions, working memory).")


@memory_app.command("forget")
def forget(
    tenant: str = typer.Option(..., "--tenant", help="the tenant whose items are deleted"),
    user: str | None = typer.Option(None, "--user", help="only this user's items"),
    stage: str = typer.Option("dev", "--stage", envvar="SOORMA_STAGE", help="stage (table name)"),
    table: str | None = typer.Option(None, "--table", help="table name (default: the stage's)"),
    events_table: str | None = typer.Option(
        None, "--events-table", help="the event log's table name (default: the stage's)"
    ),
    event_log: bool = typer.Option(
        True, "--event-log/--memory-only", help="also erase the events that name them"
    ),
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", envvar="AWS_ENDPOINT_URL", help="DynamoDB endpoint (local cloud)"
    ),
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Delete every memory item of a tenant, or of one user of a tenant, and the events of the
    event log that name them (unless --memory-only), and say how many.

    Without --endpoint-url it finds the running local cloud by itself (as `soorma send`), else
    it works on the stage's table on AWS.
    """
    from soorma.memory import EventLogEraser, MemoryEraser
    from soorma.memory.table import MemoryTable

    with reported_errors():
        check_identifier("--tenant", tenant)
        if user is not None:
            check_identifier("--user", user)
        with dynamodb_errors():
            target = DynamoTarget.find(
                "memory", endpoint_url=endpoint_url, table=table, stage=stage, state_dir=state_dir
            )
        eraser = MemoryEraser(MemoryTable(target.table, ttl_seconds=0, client=target.client))
        with dynamodb_errors(target):
            deleted = _erase(eraser, tenant, user)
        whose = f"user {user!r} of tenant {tenant!r}" if user else f"tenant {tenant!r}"
        typer.echo(f"deleted {deleted} item(s) of {whose} from {target.table} ({target.where})")
        if not event_log:
            return
        with dynamodb_errors():
            log = DynamoTarget.find(
                "events",
                endpoint_url=endpoint_url,
                table=events_table,
                stage=stage,
                state_dir=state_dir,
            )
        log_eraser = EventLogEraser(MemoryTable(log.table, ttl_seconds=0, client=log.client))
        with dynamodb_errors(log):
            logged = _erase(log_eraser, tenant, user)
        typer.echo(f"deleted {logged} event(s) of {whose} from the event log {log.table}")


def _erase(eraser: Any, tenant: str, user: str | None) -> int:
    deleted, cursor = 0, None
    while True:
        if user:
            progress = eraser.forget_user(tenant, user, cursor=cursor)
        else:
            progress = eraser.forget_tenant(tenant, cursor=cursor)
        deleted += progress.deleted
        cursor = progress.cursor
        if progress.done:
            return int(deleted)
