"""`soorma dev`: the local cloud in the foreground, a live line per handling; or a scenario.

`soorma dev PATH` runs the agents under PATH until Ctrl-C; with `--scenario NAME` or `--once` it
sends a scenario's events, waits until everything is handled, prints the trace tree and exits
(non-zero when the scenario's expectations are not met).
"""

from __future__ import annotations

import re
import signal
import time
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from soorma_common.environment import LLM_PROVIDER
from soorma_dev import rendering
from soorma_dev.cli.connection import DEFAULT_STATE_DIR, StateDir, connect
from soorma_dev.cli.errors import EXIT_FAILED, CommandError, fail, reported_errors
from soorma_dev.cli.output import console, error_console
from soorma_dev.cli.parsing import check_port, check_positive
from soorma_dev.scenarios import Scenario, agent_folders, is_scenario


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
    if folders and folders != [folder]:  # a folder of folders: only those defining an agent
        folders = _defining_an_agent(folder)
    if not folders:
        raise CommandError(
            f"no agents in {folder}: none of its folders has a handler.py that defines an agent",
            hint="create one with `soorma init NAME --kind worker`",
        )
    return folders, loaded


def _defining_an_agent(folder: Path) -> list[Path]:
    """The sub-folders of `folder` whose handler defines an agent (platform functions that are
    not agents, such as functions/registry_sync, are skipped as `soorma manifest --scan` does)."""
    from soorma_dev.manifests import AgentNotFoundError, agents_under

    try:
        return agents_under(folder)
    except AgentNotFoundError as exc:
        hint = "each agent folder needs a handler.py that imports and defines one agent"
        raise CommandError(summarize_traceback(str(exc)), hint=hint) from None


DEV_HELP = (
    "Run the local cloud with the agents under PATH and show a live line per event; Ctrl-C "
    "stops it.\n\n"
    "To run a scenario (a folder with scenario.json): `soorma dev PATH --scenario NAME` or "
    "`soorma dev SCENARIO --once` sends its events, waits until everything is handled, prints "
    "the trace tree and exits (non-zero when the scenario's expectations are not met)."
)


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
    http_port: Annotated[
        int,
        typer.Option("--http-port", help="serve the front door's HTTP API on this port (0: off)"),
    ] = 0,
    time_scale: Annotated[
        float,
        typer.Option("--time-scale", help="visibility timeouts (so retries) scale by this factor"),
    ] = 0.1,
    stage: Annotated[str, typer.Option("--stage", help="stage in every resource name")] = "local",
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="the fast mode: bus, queues, claims and event log in SQLite, not moto "
            "(docs/local-cloud.md); the faithful mode is the default",
        ),
    ] = False,
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm",
            help="the agents' language model: recorded:FILE.jsonl, scripted:MODULE:NAME or "
            "bedrock (default: SOORMA_LLM_PROVIDER, else bedrock)",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="seconds a scenario may take to become idle")
    ] = 120.0,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Run the local cloud (see `DEV_HELP`)."""
    stop_on_sigterm()
    with reported_errors():
        check_port(port)
        check_positive("--time-scale", time_scale, "0.1")
        check_positive("--timeout", timeout, "120")
        folders, loaded = resolve_target(path, scenario, once)
        refuse_a_second_cloud(state_dir)
        env = dict(loaded.env) if loaded is not None else {}
        if llm is not None:  # --llm wins over the scenario's choice
            env[LLM_PROVIDER] = language_model_setting(llm)
        cloud = _start_cloud(
            folders, port, time_scale, stage, state_dir, env, http_port or None, fast=fast
        )
    from soorma_dev.localcloud import WorkerError

    code = 0
    live = LiveLines(cloud)
    try:
        _print_started(cloud, folders, state_dir, offer_scenario=loaded is None)
        if loaded is not None:
            code = _run_scenario(cloud, loaded, timeout, live)
        if loaded is None or watch:
            _watch(live)
    except Terminated:
        console.print("\n[dim]SIGTERM: stopping the local cloud…[/]")
        code = 128 + signal.SIGTERM
    except KeyboardInterrupt:
        console.print("\n[dim]Ctrl-C: stopping the local cloud…[/]")
        code = 130
    except WorkerError as exc:  # an agent's worker process died: its log tail says why
        error_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        code = EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stop
        with console.status("stopping the local cloud…"):
            cloud.stop()
    raise typer.Exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C (a `KeyboardInterrupt`, so that whatever is starting
    or running unwinds the same way and the state file is removed)."""


def stop_on_sigterm() -> None:
    """Make SIGTERM raise `Terminated` in the main thread, as Ctrl-C raises KeyboardInterrupt."""

    def terminate(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)


def report_worker(message: str) -> None:
    """A worker process died or was restarted: one line on stderr."""
    error_console.print(f"[bold yellow]{escape(message)}[/]", soft_wrap=True)


def language_model_setting(spec: str) -> str:
    """`--llm` as `SOORMA_LLM_PROVIDER` takes it (`soorma.ai.providers.configured`; a
    recording's path made absolute), or a `CommandError` saying what is accepted."""
    from soorma.ai.providers.configured import provider_spec
    from soorma.ai.providers.errors import ModelNotConfiguredError

    try:
        kind, argument = provider_spec(spec)
    except ModelNotConfiguredError:
        raise CommandError(
            f"--llm {spec!r} names no language model",
            hint="use recorded:FILE.jsonl, scripted:MODULE:NAME or bedrock",
        ) from None
    if kind != "recorded":
        return f"{kind}:{argument}" if argument else kind
    recording = Path(argument).expanduser().resolve()
    if not recording.is_file():
        raise CommandError(f"--llm {spec}: no recording at {recording}")
    return f"recorded:{recording}"


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
    folders: list[Path],
    port: int,
    time_scale: float,
    stage: str,
    state_dir: Path,
    env: dict[str, str] | None = None,
    http_port: int | None = None,
    *,
    fast: bool = False,
) -> Any:
    from soorma_dev.localcloud import LocalCloud, WorkerError
    from soorma_dev.localcloud.server import MotoServerError
    from soorma_dev.manifests import AgentNotFoundError

    cloud = LocalCloud(
        folders,
        stage=stage,
        port=port,
        time_scale=time_scale,
        state_dir=state_dir,
        report_worker=report_worker,
        reload_code=True,
        env=env,
        front_door_port=http_port,
        fast=fast,
    )
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
    mode = " (fast mode: bus, queues and claims in SQLite)" if getattr(cloud, "fast", 0) else ""
    console.print(f"[bold green]local cloud running[/] at {cloud.endpoint_url}{mode}")
    console.print(f"agents: {names}")
    if getattr(cloud, "front_door", None) is not None:
        console.print(f"front door (HTTP API) at {cloud.front_door.url}")
    console.print(
        f"[dim]state in {state_dir}/; from another terminal:[/] soorma send EVENT_TYPE --topic "
        "TOPIC --data JSON[dim], then[/] soorma trace CORRELATION_ID"
    )
    console.print(
        "[dim]change an agent's code and its worker reloads; queues, dead letters and trace "
        "stay (then:[/] soorma dlq redrive[dim])[/]"
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
        error_console.print(f"[bold red]✘[/] {problem}")
    if problems:
        return EXIT_FAILED
    console.print(f"[bold green]✔ scenario {scenario.name}: every expectation met[/]")
    if scenario.after_fix is not None:
        console.print(
            f"[dim]its second act (fix, then redrive) is in {scenario.folder}/README.md[/]"
        )
    return 0
