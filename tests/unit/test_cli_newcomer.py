"""The newcomer's path: `soorma init`, then `soorma dev` on the default folder.

- `soorma dev` on a folder of function folders runs the agents among them and skips folders
  whose handler defines no agent (functions/registry_sync), as `soorma manifest --scan` does;
- platform names are reserved: an agent named `event-log` is refused, not silently replaced;
- the agents `soorma init` generates pass the repository's own lint (ruff).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soorma_dev.cli import app
from soorma_dev.cli.dev import resolve_target
from soorma_dev.cli.errors import EXIT_BAD_INPUT

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

AGENT = """from soorma import Worker
from soorma_common import EventEnvelope, EventTopic

worker = Worker(name="{name}")


@worker.on_event("thing.happened", topic=EventTopic.BUSINESS_FACTS)
def handle(event: EventEnvelope, context) -> None:
    pass


handler = worker.lambda_handler
"""


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback instead of an error message: {result.exception!r}"
    )
    return result.exit_code, result.output


def test_dev_on_the_functions_folder_skips_folders_that_are_not_agents(tmp_path: Path) -> None:
    functions = tmp_path / "functions"
    shutil.copytree(REPO / "functions", functions)  # event_log and registry_sync, as cloned
    code, output = invoke("init", "billing", "--kind", "worker", "--dir", str(functions))
    assert code == 0, output

    folders, scenario = resolve_target(functions, None)

    assert scenario is None
    assert [f.name for f in folders] == ["billing", "event_log"]


def test_an_agent_named_like_a_platform_function_is_refused(tmp_path: Path) -> None:
    (tmp_path / "agents" / "mine").mkdir(parents=True)
    (tmp_path / "agents" / "mine" / "handler.py").write_text(AGENT.format(name="event-log"))

    code, output = invoke("dev", str(tmp_path / "agents"), "--state-dir", str(tmp_path / ".soorma"))

    assert code == EXIT_BAD_INPUT
    assert "agent name 'event-log'" in output
    assert "is reserved for the platform" in output
    assert "rename the agent" in output
    assert "Traceback" not in output


def test_two_agents_with_one_name_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / "agents" / folder).mkdir(parents=True)
        (tmp_path / "agents" / folder / "handler.py").write_text(AGENT.format(name="same"))

    code, output = invoke("dev", str(tmp_path / "agents"), "--state-dir", str(tmp_path / ".soorma"))

    assert code == EXIT_BAD_INPUT
    assert "two agents are named 'same'" in output


LONGEST_NAME = "a-very-long-agent-name-of-36-letters"


@pytest.mark.parametrize("kind", ["worker", "tool", "planner"])
@pytest.mark.parametrize("name", ["billing", LONGEST_NAME])
def test_generated_agents_pass_the_repositorys_lint(tmp_path: Path, kind: str, name: str) -> None:
    assert len(LONGEST_NAME) == 36  # the longest agent name (soorma_common.naming)
    code, output = invoke("init", name, "--kind", kind, "--dir", str(tmp_path))
    assert code == 0, output

    linted = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(REPO / "pyproject.toml"), "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    formatted = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "--config",
            str(REPO / "pyproject.toml"),
            ".",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_a_copy_of_the_event_log_among_the_agents_replaces_the_packaged_one(
    tmp_path: Path,
) -> None:
    from soorma_dev.localcloud.cloud import PLATFORM_FUNCTIONS
    from soorma_dev.manifests import agents_to_run, read_manifests

    functions = tmp_path / "functions"
    shutil.copytree(REPO / "functions" / "event_log", functions / "event_log")
    (functions / "billing").mkdir()
    (functions / "billing" / "handler.py").write_text(AGENT.format(name="billing"))
    paths = [functions / "billing", functions / "event_log", *PLATFORM_FUNCTIONS]

    chosen = agents_to_run(read_manifests(paths), paths, PLATFORM_FUNCTIONS)

    assert [(m.name, p) for m, p in chosen] == [
        ("billing", functions / "billing"),
        ("event-log", functions / "event_log"),
    ]
