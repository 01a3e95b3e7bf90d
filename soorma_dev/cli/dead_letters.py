"""`soorma dlq list / show / redrive`: the dead letters of the running local cloud."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from soorma_dev import rendering
from soorma_dev.cli.connection import DEFAULT_STATE_DIR, StateDir, connect
from soorma_dev.cli.errors import EXIT_FAILED, CommandError, reported_errors
from soorma_dev.cli.output import console, print_json

dlq_app = typer.Typer(
    name="dlq",
    help="Dead letters of the running local cloud: list, show and redrive them.",
    no_args_is_help=True,
)

AgentFilter = Annotated[
    str | None, typer.Option("--agent", "-a", help="only this agent's dead letters")
]


@dlq_app.command("list")
def dlq_list(
    agent: AgentFilter = None,
    as_json: Annotated[bool, typer.Option("--json", help="print them as JSON")] = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """List the dead letters (rule delivery failures, redrives after retries, permanent errors)."""
    with reported_errors():
        client = connect(state_dir)
        check_agent(client, agent)
        letters = client.dead_letters(agent=agent)
    if as_json:
        print_json([dead_letter_json(letter) for letter in letters])
    else:
        console.print(rendering.dead_letter_table(letters))


def check_agent(client: Any, agent: str | None) -> None:
    """Raise `CommandError` if `--agent` names no agent of the running local cloud."""
    if agent is not None and agent not in client.platform.agents:
        raise CommandError(
            f"no agent {agent!r} runs in the local cloud",
            hint=f"its agents: {', '.join(sorted(client.platform.agents))}",
        )


def dead_letter_json(letter: Any) -> dict[str, Any]:
    """A dead letter as plain JSON."""
    return {
        "agent": letter.agent,
        "topic": str(letter.topic),
        "kind": letter.kind,
        "reason": letter.reason,
        "message_id": letter.message_id,
        "queue": letter.queue,
        "dlq_url": letter.dlq_url,
        "body": letter.body,
    }


@dlq_app.command("show")
def dlq_show(
    message_id: Annotated[
        str | None,
        typer.Argument(help="a message id or its start (from `dlq list`); default: all"),
    ] = None,
    agent: AgentFilter = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Show dead letters in full (one, or all of an agent): source queue, kind, reason, body."""
    with reported_errors():
        client = connect(state_dir)
        check_agent(client, agent)
        letters = client.dead_letters(agent=agent)
        found = [
            letter
            for letter in letters
            if message_id is None or letter.message_id.startswith(message_id)
        ]
        if not found:
            known = ", ".join(letter.message_id for letter in letters) or "none"
            raise CommandError(
                f"no dead letter matches {message_id or 'the filter'!r}",
                hint=f"dead letters now: {known}",
                code=EXIT_FAILED,
            )
    for letter in found:
        console.print(rendering.dead_letter_detail(letter))


@dlq_app.command("redrive")
def dlq_redrive(
    message_ids: Annotated[
        list[str] | None, typer.Argument(help="only these message ids (default: all)")
    ] = None,
    agent: AgentFilter = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Send dead letters back to their source queues, to be handled again."""
    with reported_errors():
        client = connect(state_dir)
        check_agent(client, agent)
        chosen = None
        if message_ids:
            known = [letter.message_id for letter in client.dead_letters(agent=agent)]
            chosen = [expand_message_id(given, known) for given in message_ids]
        count = client.redrive(agent=agent, message_ids=chosen)
    console.print(f"[magenta]redriven[/] {count} dead letter(s) to their source queue(s)")


def expand_message_id(given: str, known: list[str]) -> str:
    """The one known message id that `given` is or starts, else `CommandError`."""
    matches = [message_id for message_id in known if message_id.startswith(given)]
    if len(matches) != 1:
        raise CommandError(
            f"{'no' if not matches else 'more than one'} dead letter matches {given!r}",
            hint=f"dead letters now: {', '.join(known) or 'none'}",
            code=EXIT_FAILED,
        )
    return matches[0]
