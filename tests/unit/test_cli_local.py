"""The local-cloud commands of `soorma`: parsing, errors a person can act on, `soorma init`.

These run without a local cloud: every command that needs one must say that none is running
(exit 3) instead of failing with a traceback. The commands driving a real local cloud are tested
in tests/e2e/test_cli_terminals.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soorma_common.topics import EventTopic
from soorma_dev.cli import app
from soorma_dev.cli.dead_letters import expand_message_id
from soorma_dev.cli.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NOT_RUNNING, CommandError
from soorma_dev.cli.parsing import parse_data

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback instead of an error message: {result.exception!r}"
    )
    return result.exit_code, result.output


# ---- soorma send: input errors are reported before any cloud is needed ----------------------


def test_send_rejects_bad_json_with_the_position_and_a_hint(tmp_path: Path) -> None:
    code, output = invoke(
        "send",
        "order.placed",
        "--topic",
        "business-facts",
        "--data",
        "{order_id: 1}",
        "--state-dir",
        str(tmp_path),
    )
    assert code == EXIT_BAD_INPUT
    assert "--data is not valid JSON" in output
    assert "line 1, column 2" in output
    assert "Traceback" not in output


def test_send_names_the_8_topics_when_the_topic_is_unknown(tmp_path: Path) -> None:
    code, output = invoke("send", "order.placed", "--topic", "orders", "--state-dir", str(tmp_path))
    assert code == EXIT_BAD_INPUT
    assert "unknown topic 'orders'" in output
    for topic in EventTopic:
        assert topic.value in output


def test_send_reports_a_missing_data_file(tmp_path: Path) -> None:
    missing = tmp_path / "order.json"
    code, output = invoke(
        "send",
        "order.placed",
        "--topic",
        "business-facts",
        "--data",
        f"@{missing}",
        "--state-dir",
        str(tmp_path),
    )
    assert code == EXIT_BAD_INPUT
    assert f"file {missing} not found" in output


def test_send_reports_invalid_json_in_a_data_file(tmp_path: Path) -> None:
    file = tmp_path / "order.json"
    file.write_text('{"order_id": "o-1",\n}')
    code, output = invoke(
        "send",
        "order.placed",
        "--topic",
        "business-facts",
        "--data",
        f"@{file}",
        "--state-dir",
        str(tmp_path),
    )
    assert code == EXIT_BAD_INPUT
    assert f"{file} is not valid JSON" in output
    assert "line 2" in output


def test_send_rejects_an_event_type_with_spaces_before_asking_any_cloud(tmp_path: Path) -> None:
    code, output = invoke(
        "send", "order placed", "--topic", "business-facts", "--state-dir", str(tmp_path)
    )
    assert code == EXIT_BAD_INPUT
    assert "not a valid event" in output and "invalid event type 'order placed'" in output
    assert "e.g. order.placed" in output


def test_errors_print_brackets_in_values_as_written_not_as_markup(tmp_path: Path) -> None:
    code, output = invoke(
        "send", "order [dev]", "--topic", "business-facts", "--state-dir", str(tmp_path)
    )
    assert code == EXIT_BAD_INPUT
    assert "type 'order [dev]'" in output


def test_send_needs_a_topic() -> None:
    code, output = invoke("send", "order.placed")
    assert code == 2
    assert "--topic" in output


def test_message_ids_may_be_given_by_their_start() -> None:
    known = ["5f1c0d5e-0001", "5f1c0d5e-0002", "a07b-0003"]
    assert expand_message_id("a07b", known) == "a07b-0003"
    assert expand_message_id("5f1c0d5e-0002", known) == "5f1c0d5e-0002"
    with pytest.raises(CommandError, match="more than one dead letter matches"):
        expand_message_id("5f1c", known)
    with pytest.raises(CommandError, match="no dead letter matches 'zz'"):
        expand_message_id("zz", known)


def test_data_reads_inline_json_and_files(tmp_path: Path) -> None:
    file = tmp_path / "order.json"
    file.write_text(json.dumps({"order_id": "o-1", "items": [1, 2]}))
    assert parse_data('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    assert parse_data(f"@{file}") == {"order_id": "o-1", "items": [1, 2]}


# ---- commands that need a running local cloud ----------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["send", "order.placed", "--topic", "business-facts", "--data", '{"order_id": "o-1"}'],
        ["trace", "c-1"],
        ["dlq", "list"],
        ["dlq", "show", "m-1"],
        ["dlq", "redrive", "--agent", "inventory"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_commands_say_that_no_local_cloud_is_running(tmp_path: Path, args: list[str]) -> None:
    code, output = invoke(*args, "--state-dir", str(tmp_path / ".soorma"))
    assert code == EXIT_NOT_RUNNING
    assert "no local cloud is running" in output
    assert "soorma dev" in output
    assert "Traceback" not in output


def test_a_stale_state_file_is_reported_as_no_cloud_running(tmp_path: Path) -> None:
    from soorma_dev.localcloud.state import STATE_FILE

    state = {
        "pid": 999_999,
        "endpoint_url": "http://127.0.0.1:9",  # the discard port: nothing answers there
        "platform": {"stage": "local", "bus_name": "b", "tables": {}, "agents": {}},
        "activity_path": str(tmp_path / "activity.jsonl"),
        "started_at": "2026-11-27T00:00:00Z",
    }
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    code, output = invoke("trace", "c-1", "--state-dir", str(tmp_path))
    assert code == EXIT_NOT_RUNNING
    assert "no local cloud is running" in output


# ---- soorma dev: arguments checked before anything starts ----------------------------------


def test_dev_rejects_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    code, output = invoke("dev", str(tmp_path / "nowhere"))
    assert code == EXIT_BAD_INPUT
    assert "is not a folder" in output


def test_dev_lists_the_scenarios_when_the_name_is_unknown(tmp_path: Path) -> None:
    for name in ("hello-world", "order-fanout"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "scenario.json").write_text(json.dumps({"name": name}))
    code, output = invoke("dev", str(tmp_path), "--scenario", "order-fan-out")
    assert code == EXIT_BAD_INPUT
    assert "no scenario 'order-fan-out'" in output
    assert "hello-world, order-fanout" in output


def test_dev_once_needs_a_scenario_folder(tmp_path: Path) -> None:
    code, output = invoke("dev", str(tmp_path), "--once")
    assert code == EXIT_BAD_INPUT
    assert f"{tmp_path} has no scenario.json" in output


def test_dev_reports_a_folder_without_agents(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, output = invoke("dev", str(tmp_path / "empty"))
    assert code == EXIT_BAD_INPUT
    assert "no agents in" in output
    assert "soorma init" in output


def test_dev_reports_an_invalid_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "scenario.json").write_text('{"name": "broken", "send": [}')
    code, output = invoke("dev", str(tmp_path / "broken"), "--once")
    assert code == EXIT_BAD_INPUT
    assert "scenario.json: invalid JSON at line 1" in output


def test_dev_reports_an_unknown_topic_in_a_scenario(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    scenario = {"name": "s", "send": [{"topic": "orders", "event_type": "order.placed"}]}
    (tmp_path / "s" / "scenario.json").write_text(json.dumps(scenario))
    code, output = invoke("dev", str(tmp_path / "s"), "--once")
    assert code == EXIT_BAD_INPUT
    assert "unknown topic 'orders'" in output


def test_dev_shows_where_an_agent_failed_to_import_without_the_cli_frames(
    tmp_path: Path,
) -> None:
    (tmp_path / "agents" / "bad").mkdir(parents=True)
    (tmp_path / "agents" / "bad" / "handler.py").write_text(
        'from soorma import Worker\nworker = Worker(name="bad")\nraise RuntimeError("boom")\n'
    )
    code, output = invoke("dev", str(tmp_path / "agents"), "--state-dir", str(tmp_path / ".soorma"))
    assert code == EXIT_BAD_INPUT
    assert f'File "{tmp_path}/agents/bad/handler.py", line 3' in output
    assert 'raise RuntimeError("boom")' in output
    assert "RuntimeError: boom" in output
    assert "typer" not in output


def test_dev_says_when_its_port_is_taken(tmp_path: Path) -> None:
    agent = Path(__file__).resolve().parents[2] / "examples" / "hello-world" / "greeter"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = invoke(
            "dev", str(agent), "--port", str(port), "--state-dir", str(tmp_path / ".soorma")
        )
    assert code == EXIT_FAILED
    assert "the local cloud did not start" in output
    assert "in use" in output  # moto's own words for it vary
    assert "Pick another --port" in output
    assert "Traceback" not in output


# ---- soorma init ---------------------------------------------------------------------------


def test_init_creates_agents_that_compile_and_pass_their_own_tests(tmp_path: Path) -> None:
    from soorma_dev.manifests import read_manifests

    kinds = ("worker", "tool", "planner")
    for kind in kinds:
        code, output = invoke("init", f"new-{kind}", "--kind", kind, "--dir", str(tmp_path))
        assert code == 0, output
        folder = tmp_path / f"new-{kind}"
        assert f"created {kind} 'new-{kind}'" in output
        assert sorted(p.name for p in folder.iterdir()) == ["handler.py", f"test_new_{kind}.py"]
        for file in folder.iterdir():
            compile(file.read_text(), str(file), "exec")
    manifests = read_manifests([tmp_path / f"new-{kind}" for kind in kinds])
    assert [(m.name, m.kind.value) for m in manifests] == [(f"new-{k}", k) for k in kinds]

    passed = _pytest(tmp_path)
    assert passed.returncode == 0, passed.stdout
    assert "3 passed" in passed.stdout

    handler = tmp_path / "new-tool" / "handler.py"
    handler.write_text(handler.read_text().replace('{"echo": event.data}', '{"echo": None}'))
    broken = _pytest(tmp_path / "new-tool")
    assert broken.returncode == 1
    assert "1 failed" in broken.stdout


def _pytest(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=path,
        check=False,
    )


def test_init_rejects_an_invalid_agent_name(tmp_path: Path) -> None:
    code, output = invoke("init", "My_Agent", "--kind", "worker", "--dir", str(tmp_path))
    assert code == EXIT_BAD_INPUT
    assert "invalid agent name 'My_Agent'" in output
    assert list(tmp_path.iterdir()) == []


def test_init_never_overwrites_an_existing_agent(tmp_path: Path) -> None:
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "handler.py").write_text("# mine\n")
    code, output = invoke("init", "billing", "--kind", "tool", "--dir", str(tmp_path))
    assert code == EXIT_BAD_INPUT
    assert "already exists" in output
    assert (tmp_path / "billing" / "handler.py").read_text() == "# mine\n"


def test_init_rejects_an_unknown_kind(tmp_path: Path) -> None:
    code, output = invoke("init", "x", "--kind", "robot", "--dir", str(tmp_path))
    assert code == 2
    assert "robot" in output
