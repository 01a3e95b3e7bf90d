"""Every bad input of issue 12 ends in one line saying what was wrong (and a hint saying what to
do), with the documented exit code (`soorma_dev.cli.errors`: 1 failed, 2 bad input, 3 no local
cloud) — never a traceback. Cases that need a running local cloud are in
tests/e2e/test_cli_finds_the_cloud.py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soorma_dev.cli import app
from soorma_dev.cli.errors import EXIT_BAD_INPUT, EXIT_NOT_RUNNING

runner = CliRunner()

AGENT_HEAD = "from soorma import Worker\nfrom soorma_common import EventTopic\n\n"
GOOD_HANDLER = "def handle(event, context):\n    pass\n"


def dead_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def agent_folder(tmp_path: Path, body: str) -> str:
    folder = tmp_path / "agents" / "broken"
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text(body)
    return str(folder)


def a_file(tmp_path: Path) -> str:
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    return str(file)


@dataclass(frozen=True)
class Case:
    """One bad input: the arguments (made in a temporary folder), exit code, words expected."""

    args: Callable[[Path], list[str]]
    code: int
    says: str


CASES = {
    "manifest-syntax-error": Case(
        lambda t: ["manifest", agent_folder(t, AGENT_HEAD + "worker = Worker(name='x'\n")],
        EXIT_BAD_INPUT,
        "SyntaxError",
    ),
    "manifest-import-error": Case(
        lambda t: ["manifest", agent_folder(t, "import no_such_module_here\n")],
        EXIT_BAD_INPUT,
        "handler.py line 1: ModuleNotFoundError: No module named 'no_such_module_here'",
    ),
    "manifest-duplicate-handler": Case(
        lambda t: [
            "manifest",
            agent_folder(
                t,
                AGENT_HEAD
                + "worker = Worker(name='dup')\n"
                + "worker.on_event('a.b', topic='business-facts')(lambda e, c: None)\n"
                + "worker.on_event('a.b', topic='business-facts')(lambda e, c: None)\n",
            ),
        ],
        EXIT_BAD_INPUT,
        "already has a handler for 'a.b'",
    ),
    "manifest-uppercase-name": Case(
        lambda t: ["manifest", agent_folder(t, AGENT_HEAD + "worker = Worker(name='Billing')\n")],
        EXIT_BAD_INPUT,
        "invalid agent name 'Billing'",
    ),
    "manifest-unknown-topic": Case(
        lambda t: [
            "manifest",
            agent_folder(
                t,
                AGENT_HEAD
                + "worker = Worker(name='w')\n"
                + "worker.on_event('a.b', topic='orders')(lambda e, c: None)\n",
            ),
        ],
        EXIT_BAD_INPUT,
        "unknown topic 'orders'",
    ),
    "handler-with-one-argument": Case(
        lambda t: [
            "manifest",
            agent_folder(
                t,
                AGENT_HEAD
                + "worker = Worker(name='w')\n"
                + "worker.on_event('a.b', topic='business-facts')(lambda event: None)\n",
            ),
        ],
        EXIT_BAD_INPUT,
        "cannot be called as handler(event, context)",
    ),
    "handler-that-is-a-string": Case(
        lambda t: [
            "manifest",
            agent_folder(
                t,
                AGENT_HEAD
                + "worker = Worker(name='w')\n"
                + "worker.on_event('a.b', topic='business-facts')('handle')\n",
            ),
        ],
        EXIT_BAD_INPUT,
        "is a str ('handle'), not a function",
    ),
    "subscription-with-a-space": Case(
        lambda t: [
            "manifest",
            agent_folder(
                t,
                AGENT_HEAD
                + "worker = Worker(name='w')\n"
                + f"@worker.on_event('x do', topic='business-facts')\n{GOOD_HANDLER}",
            ),
        ],
        EXIT_BAD_INPUT,
        "invalid event type 'x do'",
    ),
    "events-dead-endpoint": Case(
        lambda t: ["events", "--endpoint-url", f"http://127.0.0.1:{dead_port()}"],
        EXIT_NOT_RUNNING,
        "nothing answers at http://127.0.0.1:",
    ),
    "memory-forget-dead-endpoint": Case(
        lambda t: [
            "memory",
            "forget",
            "--tenant",
            "acme",
            "--endpoint-url",
            f"http://127.0.0.1:{dead_port()}",
        ],
        EXIT_NOT_RUNNING,
        "nothing answers at http://127.0.0.1:",
    ),
    "send-data-over-256-kb": Case(
        lambda t: ["send", "a.b", "--topic", "business-facts", "--data", f'"{"x" * 300_000}"'],
        EXIT_BAD_INPUT,
        "over the 262144-byte limit",
    ),
    "send-nan-in-data": Case(
        lambda t: ["send", "a.b", "--topic", "business-facts", "--data", '{"total": NaN}'],
        EXIT_BAD_INPUT,
        "--data holds NaN, which JSON does not allow",
    ),
    "send-300-character-event-type": Case(
        lambda t: ["send", "a" * 300, "--topic", "business-facts"],
        EXIT_BAD_INPUT,
        "it has 300 characters, over the 128",
    ),
    "send-empty-tenant": Case(
        lambda t: ["send", "a.b", "--topic", "business-facts", "--tenant", ""],
        EXIT_BAD_INPUT,
        "--tenant '' is not a valid id",
    ),
    "send-5000-character-tenant": Case(
        lambda t: ["send", "a.b", "--topic", "business-facts", "--tenant", "t" * 5000],
        EXIT_BAD_INPUT,
        "(5000 characters)' is not a valid id",
    ),
    "memory-forget-empty-tenant": Case(
        lambda t: ["memory", "forget", "--tenant", ""],
        EXIT_BAD_INPUT,
        "--tenant '' is not a valid id",
    ),
    "state-dir-is-a-file": Case(
        lambda t: ["dlq", "list", "--state-dir", a_file(t)],
        EXIT_BAD_INPUT,
        "--state-dir",
    ),
    "dev-state-dir-is-a-file": Case(
        lambda t: ["dev", str(t), "--state-dir", a_file(t)],
        EXIT_BAD_INPUT,
        "is a file, not a folder",
    ),
    "init-dir-is-a-file": Case(
        lambda t: ["init", "billing", "--kind", "worker", "--dir", a_file(t)],
        EXIT_BAD_INPUT,
        "--dir",
    ),
    "dev-port-99999": Case(
        lambda t: ["dev", str(t), "--port", "99999"],
        EXIT_BAD_INPUT,
        "--port 99999 is not a TCP port",
    ),
    "dev-negative-time-scale": Case(
        lambda t: ["dev", str(t), "--time-scale", "-1"],
        EXIT_BAD_INPUT,
        "--time-scale -1.0 must be a number above 0",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_input_is_one_line_and_its_exit_code(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no local cloud runs here
    case = CASES[name]
    result = runner.invoke(app, case.args(tmp_path))

    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback instead of an error message: {result.exception!r}"
    )
    assert result.exit_code == case.code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[0].startswith("error: "), result.output
    assert case.says in " ".join(lines), result.output
    assert len(lines) <= 2, result.output  # the error and a hint
    assert all(line.startswith(("error: ", "hint: ")) for line in lines), result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args", [["events"], ["memory", "forget", "--tenant", "acme"]], ids=["events", "forget"]
)
def test_without_credentials_and_without_a_local_cloud_the_error_says_so(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    result = runner.invoke(app, args)

    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert result.output.startswith("error: no AWS credentials"), result.output
    assert "soorma dev" in result.output  # what to do
    assert "Traceback" not in result.output
