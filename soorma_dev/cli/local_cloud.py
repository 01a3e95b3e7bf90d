"""`soorma send` and `soorma trace`: talk to the running local cloud from another terminal.

`soorma dev` (`dev.py`) runs the local cloud in the foreground and writes a state file
(`.soorma/local.json`); these commands (and `soorma dlq`, `dead_letters.py`) find it there. Every
error a person can act on is printed as one line saying what is wrong and what to do, never as a
traceback (exit codes in `errors.py`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from soorma_dev import rendering
from soorma_dev.cli.connection import DEFAULT_STATE_DIR, StateDir, connect
from soorma_dev.cli.errors import EXIT_FAILED, CommandError, reported_errors
from soorma_dev.cli.output import console, print_json
from soorma_dev.cli.parsing import check_event, parse_data, parse_topic


def send(
    event_type: Annotated[str, typer.Argument(help="the event type, e.g. order.placed")],
    topic: Annotated[str, typer.Option("--topic", "-t", help="one of the 8 topics")],
    data: Annotated[str, typer.Option("--data", "-d", help="JSON, or @file.json")] = "{}",
    tenant: Annotated[str | None, typer.Option("--tenant", help="tenant id")] = None,
    user: Annotated[str | None, typer.Option("--user", help="user id")] = None,
    correlation_id: Annotated[
        str | None,
        typer.Option("--correlation-id", help="continue a workflow (default: a new one)"),
    ] = None,
    response_event: Annotated[
        str | None,
        typer.Option("--response-event", help="the event type the reply to this request has"),
    ] = None,
    reply_to: Annotated[
        str | None,
        typer.Option("--reply-to", help="the agent the reply goes to (its action-results queue)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the sent envelope as JSON")
    ] = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Send one event to the running local cloud (a real PutEvents on its bus)."""
    with reported_errors():
        parsed_topic = parse_topic(topic)
        payload = parse_data(data)
        check_event(
            event_type,
            parsed_topic,
            payload,
            tenant_id=tenant,
            user_id=user,
            correlation_id=correlation_id,
            response_event=response_event,
            reply_to=reply_to,
        )
        client = connect(state_dir)
        attributes = {
            "tenant_id": tenant,
            "user_id": user,
            "correlation_id": correlation_id,
            "response_event": response_event,
            "reply_to": reply_to,
        }
        envelope = client.send(
            event_type,
            payload,
            topic=parsed_topic,
            **{name: value for name, value in attributes.items() if value is not None},
        )
    if as_json:
        print_json(envelope.to_wire())
        return
    console.print(f"[green]sent[/] {envelope.type} on {parsed_topic.value}  id {envelope.id}")
    console.print(f"correlation id [cyan]{envelope.correlation_id}[/]")
    console.print(f"[dim]follow it with:[/] soorma trace {envelope.correlation_id}")


def trace_json(node: Any) -> dict[str, Any]:
    """A trace node as plain JSON: the envelope, its handlings and its children."""
    return {
        "event": node.envelope.to_wire(),
        "handled": [
            {"agent": h.agent, "outcome": h.outcome, "time": h.time, "reason": h.reason}
            for h in node.handled
        ],
        "children": [trace_json(child) for child in node.children],
    }


def trace(
    correlation_id: Annotated[
        str, typer.Argument(help="the workflow's correlation id, or its start (8 characters)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print the tree as JSON")] = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Show the causation tree of one workflow: each event, who handled it, when, and how."""
    with reported_errors():
        cloud = connect(state_dir)
        correlation_id = expand_correlation_id(cloud, correlation_id)
        roots = cloud.trace(correlation_id)
        if not roots:
            raise CommandError(
                f"no events recorded with correlation id {correlation_id!r}",
                hint="check the id printed by `soorma send` (events may still be in flight)",
                code=EXIT_FAILED,
            )
    if as_json:
        print_json([trace_json(root) for root in roots])
    else:
        console.print(rendering.trace_tree(correlation_id, roots))


def expand_correlation_id(cloud: Any, given: str) -> str:
    """The one correlation id that starts with `given` (the live view shows 8 characters), from
    the activity lines, else the event log; `given` itself when none does. Two or more that
    start with it are a `CommandError` listing them."""
    known = {a.correlation_id for a in cloud.activity() if isinstance(a.correlation_id, str)}
    if given in known:
        return given
    matches = sorted(c for c in known if c.startswith(given))
    if not matches:
        matches = cloud.logged_correlation_ids(given)
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        raise CommandError(
            f"{given!r} is the start of {len(matches)} correlation ids: {shown}",
            hint="give more characters of the one you mean",
        )
    return matches[0] if matches else given


def provide_input(
    target: Annotated[
        str,
        typer.Argument(help="the waiting plan's id, or with --to the request_id it asks on"),
    ],
    data: Annotated[str, typer.Option("--data", "-d", help="the input: JSON, or @file.json")],
    to: Annotated[
        str | None,
        typer.Option("--to", help="the planner a state-machine plan's request came from"),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="the plan's tenant")] = None,
    user: Annotated[str | None, typer.Option("--user", help="the plan's user")] = None,
    correlation_id: Annotated[
        str | None, typer.Option("--correlation-id", help="the plan's workflow")
    ] = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Answer a plan waiting for input (`plan.waiting_for_input` says how): a choreography plan
    by its id (`plan.input_provided` on notification-events), a state-machine plan by the
    request it asked on and its planner (`--to`: the reply `plan.input_provided`)."""
    from soorma.workflows.plan_definitions import INPUT_PROVIDED
    from soorma_common.topics import EventTopic

    with reported_errors():
        given = {"tenant_id": tenant, "user_id": user, "correlation_id": correlation_id}
        attributes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if to is None:
            payload: Any = {"plan_id": target, "input": parse_data(data)}
            topic = EventTopic.NOTIFICATION_EVENTS
        else:
            payload, topic = parse_data(data), EventTopic.ACTION_RESULTS
            attributes |= {"reply_to": to, "causation_id": target}
        check_event(INPUT_PROVIDED, topic, payload, **attributes)
        envelope = connect(state_dir).send(INPUT_PROVIDED, payload, topic=topic, **attributes)
    whom = f"request {target} of {to}" if to else f"plan {target}"
    console.print(f"[green]sent[/] {INPUT_PROVIDED} for {whom}  id {envelope.id}")
    console.print(f"[dim]follow it with:[/] soorma trace {envelope.correlation_id}")
