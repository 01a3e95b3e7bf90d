"""The local-cloud commands of `soorma`: dev, send, trace, dlq, init.

`soorma dev` runs the local cloud in the foreground; `send`, `trace` and `dlq` talk to it from
another terminal through the state file it writes (`.soorma/local.json`). Every error a person can
act on is printed as one line saying what is wrong and what to do, never as a traceback.

Exit codes: 0 done; 1 the work failed (a scenario's expectations unmet, nothing found);
2 bad input (JSON, topic, path, name); 3 no local cloud is running.
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from soorma_common.errors import UnknownTopicError
from soorma_common.topics import EventTopic
from soorma_dev import rendering
from soorma_dev.cli import app
from soorma_dev.scenarios import Scenario, ScenarioError, agent_folders, is_scenario

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_RUNNING = 3

DEFAULT_STATE_DIR = Path(".soorma")
TEMPLATES = Path(__file__).parent / "templates"

#: Output that is not a terminal (a log, CI, a pipe) gets wide lines instead of 80 columns.
WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 132
console = Console(highlight=False, width=WIDTH)
errors = Console(stderr=True, highlight=False, width=WIDTH)

dlq_app = typer.Typer(
    name="dlq",
    help="Dead letters of the running local cloud: list, show and redrive them.",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")

StateDir = Annotated[
    Path,
    typer.Option(
        "--state-dir",
        envvar="SOORMA_STATE_DIR",
        help="where `soorma dev` writes the state file other terminals read",
    ),
]
AgentFilter = Annotated[
    str | None, typer.Option("--agent", "-a", help="only this agent's dead letters")
]


class CommandError(Exception):
    """An error the person at the terminal can fix: printed as one line, then exit `code`."""

    def __init__(self, message: str, *, hint: str | None = None, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def fail(error: CommandError) -> NoReturn:
    """Print `error` (and its hint) on stderr and exit with its code."""
    errors.print(f"[bold red]error:[/] {error.message}", soft_wrap=True)
    if error.hint:
        errors.print(f"[dim]hint:[/] {error.hint}", soft_wrap=True)
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


# ---- parsing input -------------------------------------------------------------------------


def parse_topic(value: str) -> EventTopic:
    """The topic named on the command line; the error lists the 8 topics."""
    try:
        return EventTopic.parse(value)
    except UnknownTopicError:
        allowed = ", ".join(t.value for t in EventTopic)
        raise CommandError(
            f"unknown topic {value!r}",
            hint=f"Soorma has exactly 8 topics: {allowed}",
        ) from None


def parse_data(value: str) -> Any:
    """Event data from `--data`: inline JSON, or `@path` to read JSON from a file."""
    source = "--data"
    text = value
    if value.startswith("@"):
        file = Path(value[1:])
        if not file.is_file():
            raise CommandError(
                f"--data {value}: file {file} not found",
                hint="give a JSON file that exists, e.g. --data @order.json",
            )
        text = file.read_text()
        source = str(file)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint="""quote it for the shell, e.g. --data '{"order_id": "o-1"}', or use @file.json""",
        ) from None


def check_event(event_type: str, topic: EventTopic, data: Any, **attributes: Any) -> None:
    """Raise `CommandError` if these would not make a valid envelope (before any cloud is asked)."""
    from pydantic import ValidationError

    from soorma_common.envelope import EventEnvelope

    given = {name: value for name, value in attributes.items() if value is not None}
    try:
        EventEnvelope(source="soorma.cli", type=event_type, topic=topic, data=data, **given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))} {e['input']!r}: {e['msg']}" for e in exc.errors()
        )
        raise CommandError(
            f"not a valid event: {problems}",
            hint="event types are `domain.action` without spaces, e.g. order.placed",
        ) from None


def connect(state_dir: Path) -> Any:
    """A client of the local cloud running with `state_dir` (raises `LocalCloudNotRunning`)."""
    from soorma_dev.localcloud import LocalCloudClient

    return LocalCloudClient.connect(state_dir=state_dir)


def print_json(value: Any) -> None:
    """Print `value` as JSON on stdout (no colours, for scripts)."""
    typer.echo(json.dumps(value, indent=2, default=str))


# ---- soorma send / trace / dlq ---------------------------------------------------------------


@app.command("send")
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
        )
        client = connect(state_dir)
        envelope = client.send(
            event_type,
            payload,
            topic=parsed_topic,
            tenant_id=tenant,
            user_id=user,
            correlation_id=correlation_id,
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


@app.command("trace")
def trace(
    correlation_id: Annotated[str, typer.Argument(help="the workflow's correlation id")],
    as_json: Annotated[bool, typer.Option("--json", help="print the tree as JSON")] = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Show the causation tree of one workflow: each event, who handled it, when, and how."""
    with reported_errors():
        roots = connect(state_dir).trace(correlation_id)
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


@dlq_app.command("list")
def dlq_list(
    agent: AgentFilter = None,
    as_json: Annotated[bool, typer.Option("--json", help="print them as JSON")] = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """List the dead letters (rule delivery failures, redrives after retries, permanent errors)."""
    with reported_errors():
        letters = connect(state_dir).dead_letters(agent=agent)
    if as_json:
        print_json([dead_letter_json(letter) for letter in letters])
    else:
        console.print(rendering.dead_letter_table(letters))


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
        letters = connect(state_dir).dead_letters(agent=agent)
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


# ---- soorma dev ------------------------------------------------------------------------------


def resolve_target(
    path: Path, scenario: str | None, once: bool = False
) -> tuple[list[Path], Scenario | None]:
    """The agent folders to run and the scenario to run (with `--scenario` or `--once`)."""
    if not path.is_dir():
        raise CommandError(
            f"{path} is not a folder",
            hint="give a folder of agent folders (functions/), a scenario (examples/hello-world) "
            "or one agent folder",
        )
    loaded: Scenario | None = None
    folder = path
    if scenario is not None:
        folder = path if path.name == scenario and is_scenario(path) else path / scenario
        if not is_scenario(folder):
            known = sorted(p.name for p in path.iterdir() if is_scenario(p))
            raise CommandError(
                f"no scenario {scenario!r} in {path}",
                hint=f"scenarios there: {', '.join(known) or 'none'}",
            )
    if scenario is not None or once:
        if not is_scenario(folder):
            raise CommandError(
                f"--once runs a scenario, and {folder} has no scenario.json",
                hint="give a scenario folder (examples/order-fanout), or leave --once out",
            )
        loaded = Scenario.load(folder)
    folders = agent_folders(folder)
    if not folders:
        raise CommandError(
            f"no agents in {folder}: none of its folders has a handler.py",
            hint="create one with `soorma init NAME --kind worker`",
        )
    return folders, loaded


DEV_HELP = (
    "Run the local cloud with the agents under PATH and show a live line per event; Ctrl-C "
    "stops it.\n\n"
    "To run a scenario (a folder with scenario.json): `soorma dev PATH --scenario NAME` or "
    "`soorma dev SCENARIO --once` sends its events, waits until everything is handled, prints "
    "the trace tree and exits (non-zero when the scenario's expectations are not met)."
)


@app.command("dev", help=DEV_HELP)
def dev(
    path: Annotated[
        Path,
        typer.Argument(help="a folder of agent folders, a scenario folder or one agent folder"),
    ] = Path("functions"),
    scenario: Annotated[
        str | None,
        typer.Option("--scenario", "-s", help="run the scenario PATH/NAME, print its trace, exit"),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="PATH is a scenario: run it, print its trace, exit")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="keep running after a scenario (Ctrl-C stops)")
    ] = False,
    port: Annotated[
        int, typer.Option("--port", help="moto server port on 127.0.0.1 (0: a free one)")
    ] = 0,
    time_scale: Annotated[
        float,
        typer.Option("--time-scale", help="visibility timeouts (so retries) scale by this factor"),
    ] = 0.1,
    stage: Annotated[str, typer.Option("--stage", help="stage in every resource name")] = "local",
    timeout: Annotated[
        float, typer.Option("--timeout", help="seconds a scenario may take to become idle")
    ] = 120.0,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Run the local cloud (see `DEV_HELP`)."""
    with reported_errors():
        folders, loaded = resolve_target(path, scenario, once)
        refuse_a_second_cloud(state_dir)
        cloud = _start_cloud(folders, port, time_scale, stage, state_dir)
    from soorma_dev.localcloud import WorkerError

    code = 0
    live = LiveLines(cloud)
    try:
        _print_started(cloud, folders, state_dir, offer_scenario=loaded is None)
        if loaded is not None:
            code = _run_scenario(cloud, loaded, timeout, live)
        if loaded is None or watch:
            _watch(live)
    except KeyboardInterrupt:
        console.print("\n[dim]Ctrl-C: stopping the local cloud…[/]")
        code = 130
    except WorkerError as exc:  # an agent's worker process died: its log tail says why
        errors.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        code = EXIT_FAILED
    finally:
        with console.status("stopping the local cloud…"):
            cloud.stop()
    raise typer.Exit(code)


def refuse_a_second_cloud(state_dir: Path) -> None:
    """Raise `CommandError` if a local cloud already runs with this state folder: a second one
    would take over its state file and the other terminals would talk to the wrong cloud."""
    try:
        running = connect(state_dir)
    except Exception:  # none runs here (or its state file is stale): go ahead
        return
    raise CommandError(
        f"a local cloud is already running at {running.endpoint_url} (state in {state_dir})",
        hint="use that one, stop it with Ctrl-C in its terminal, or give this one another "
        "--state-dir",
    )


def _start_cloud(
    folders: list[Path], port: int, time_scale: float, stage: str, state_dir: Path
) -> Any:
    from soorma_dev.localcloud import LocalCloud, WorkerError
    from soorma_dev.localcloud.server import MotoServerError
    from soorma_dev.manifests import AgentNotFoundError

    cloud = LocalCloud(folders, stage=stage, port=port, time_scale=time_scale, state_dir=state_dir)
    label = f"starting the local cloud: moto server, {len(folders)} agent(s) and the platform…"
    try:
        with console.status(label, spinner="dots"):
            cloud.start()
    except AgentNotFoundError as exc:
        _stop_quietly(cloud)
        hint = "each agent folder needs a handler.py that imports and defines one agent"
        raise CommandError(summarize_traceback(str(exc)), hint=hint) from None
    except ValueError as exc:  # invalid stage or agent name
        _stop_quietly(cloud)
        raise CommandError(str(exc)) from None
    except (MotoServerError, WorkerError) as exc:
        _stop_quietly(cloud)
        raise CommandError(
            f"the local cloud did not start: {exc}",
            hint=_why_not_started(str(exc), port),
            code=EXIT_FAILED,
        ) from None
    except BaseException:
        _stop_quietly(cloud)
        raise
    return cloud


def _why_not_started(message: str, port: int) -> str:
    """The last line of the log a start error points at (`...; see PATH`), and what to do."""
    found = re.search(r"see (\S+)$", message)
    log = Path(found.group(1)) if found else None
    last = ""
    if log is not None and log.is_file():
        last = next((line for line in reversed(log.read_text().splitlines()) if line.strip()), "")
    if port and "in use" in last:
        return f"{last} Pick another --port, or leave it out for a free one."
    return last or "see the logs under the state folder (.soorma/logs, .soorma/run/logs)"


def summarize_traceback(text: str) -> str:
    """A child process's traceback cut to what a person needs: the frame of the code that raised
    (the deepest one outside the Python machinery) and the error; other text is kept as is."""
    lines = text.splitlines()
    if not any(line.startswith("Traceback") for line in lines):
        return text
    frames = [
        i for i, line in enumerate(lines) if line.startswith('  File "') and "<frozen" not in line
    ]
    where = lines[frames[-1]].strip() if frames else ""
    code = lines[frames[-1] + 1].strip() if frames and frames[-1] + 1 < len(lines) else ""
    error = next((line for line in reversed(lines) if line and not line.startswith(" ")), "")
    head = lines[0] if not lines[0].startswith("Traceback") else "importing an agent failed:"
    return "\n".join(part for part in (head, f"  {where}", f"    {code}", error) if part.strip())


def _stop_quietly(cloud: Any) -> None:
    with suppress(Exception):  # a half-started cloud: stopping is best effort
        cloud.stop()


def _print_started(
    cloud: Any, folders: list[Path], state_dir: Path, *, offer_scenario: bool
) -> None:
    scenarios = {f.parent for f in folders if offer_scenario and is_scenario(f.parent)}
    names = ", ".join(folder.name for folder in folders)
    console.print(f"[bold green]local cloud running[/] at {cloud.endpoint_url}")
    console.print(f"agents: {names}")
    console.print(
        f"[dim]state in {state_dir}/; from another terminal:[/] soorma send EVENT_TYPE --topic "
        "TOPIC --data JSON[dim], then[/] soorma trace CORRELATION_ID"
    )
    for folder in sorted(scenarios):
        console.print(f"[dim]to run the scenario instead:[/] soorma dev {folder} --once")


class LiveLines:
    """Prints the local cloud's activity lines that were not printed yet (one per handling)."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.printed = 0

    def flush(self) -> None:
        """Print every new activity line (the header before the first one)."""
        lines = self.cloud.activity(since=self.printed)
        if lines and self.printed == 0:
            console.print(rendering.activity_header(), soft_wrap=True)
        for line in lines:
            console.print(rendering.activity_line(line), soft_wrap=True)
        self.printed += len(lines)


def _watch(live: LiveLines) -> None:
    console.print("[dim]watching; Ctrl-C stops[/]")
    while True:
        live.flush()
        time.sleep(0.2)  # how often the live lines refresh


def _run_scenario(cloud: Any, scenario: Scenario, timeout: float, live: LiveLines) -> int:
    """Send the scenario, wait until idle, print its trace; return the exit code."""
    from soorma_dev.scenarios import Observed, collect, send_events, unmet_expectations

    console.print(f"[bold]scenario {scenario.name}[/]: {scenario.description}")
    sent = send_events(cloud, scenario)
    deadline = time.monotonic() + timeout
    while True:
        live.flush()
        try:
            cloud.wait_until_idle(timeout=0.5)
            break
        except TimeoutError:
            if time.monotonic() > deadline:
                fail(
                    CommandError(
                        f"scenario {scenario.name} still busy after {timeout:.0f} s",
                        hint="raise --timeout, or look at `soorma dlq list` while it runs",
                        code=EXIT_FAILED,
                    )
                )
    live.flush()
    run = collect(cloud, sent)
    for correlation_id, roots in run.traces.items():
        console.print(rendering.trace_tree(correlation_id, roots))
    if run.dead_letters:
        console.print(rendering.dead_letter_table(run.dead_letters))
    agents = {folder.name for folder in scenario.agent_folders()}
    problems = unmet_expectations(scenario.expect, Observed.of(run, agents))
    for problem in problems:
        errors.print(f"[bold red]✘[/] {problem}")
    if problems:
        return EXIT_FAILED
    console.print(f"[bold green]✔ scenario {scenario.name}: every expectation met[/]")
    if scenario.after_fix is not None:
        console.print(
            f"[dim]its second act (fix, then redrive) is in {scenario.folder}/README.md[/]"
        )
    return 0


# ---- soorma init -----------------------------------------------------------------------------


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


@app.command("init")
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
