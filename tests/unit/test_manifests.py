"""`soorma.manifests`: the one "find the agent", the producer (`python -m soorma.manifests`) and
the reader that CDK and the dev tools share."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import soorma
from soorma.manifests import (
    AgentNotFoundError,
    ManifestReadError,
    find_agent,
    load_agent,
    load_handler,
    read_manifests,
)
from soorma_common.manifest import AgentManifest
from tests.infra.agent_folders import NOT_AN_AGENT, SMALL_AGENT, write_function

#: An agent whose module has no `handler`: Lambda would call the agent's own.
NO_HANDLER = "from soorma import Worker\nworker = Worker(name='bare')\n"
#: An agent whose module wraps the agent's handler in its own.
OWN_HANDLER = (
    NO_HANDLER.replace("bare", "wrapped") + "def handler(event, context):\n    return 'own'\n"
)
#: An agent module that writes where it imported `soorma` from (the child's SDK).
REPORTS_ITS_SDK = (
    SMALL_AGENT.format(name="reporter")
    + "\nimport os, soorma\nfrom pathlib import Path\n"
    + "Path(os.environ['SDK_REPORT']).write_text(soorma.__file__)\n"
)


def produce(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "soorma.manifests", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_producer_prints_each_manifest_with_its_folder(tmp_path: Path) -> None:
    first = write_function(tmp_path / "one", "a", SMALL_AGENT.format(name="worker-a"))
    write_function(tmp_path / "scanned", "b", SMALL_AGENT.format(name="worker-b"))
    write_function(tmp_path / "scanned", "custom", NOT_AN_AGENT)
    done = produce(str(first), "--scan", str(tmp_path / "scanned"))
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert [r["name"] for r in records] == ["worker-a", "worker-b"]
    assert records[0]["path"] == str(first)
    assert AgentManifest.model_validate(records[1]).name == "worker-b"


def test_the_producer_without_folders_is_a_usage_error() -> None:
    done = produce()
    assert done.returncode == 2
    assert "give function folders, or --scan FOLDER" in done.stderr


def test_the_producer_refuses_a_folder_without_an_agent(tmp_path: Path) -> None:
    folder = write_function(tmp_path, "custom", NOT_AN_AGENT)
    done = produce(str(folder))
    assert done.returncode == 2
    assert "found none" in done.stderr and done.stdout == ""


def test_the_reader_keeps_order_folders_then_scan(tmp_path: Path) -> None:
    first = write_function(tmp_path / "one", "z", SMALL_AGENT.format(name="zeta"))
    write_function(tmp_path / "scanned", "a", SMALL_AGENT.format(name="alpha"))
    found = read_manifests([first], scan=tmp_path / "scanned")
    assert [(f.manifest.name, f.path.name) for f in found] == [("zeta", "z"), ("alpha", "a")]
    assert read_manifests([]) == []


def test_the_reader_reports_the_childs_error(tmp_path: Path) -> None:
    folder = write_function(tmp_path, "custom", NOT_AN_AGENT)
    with pytest.raises(ManifestReadError, match=r"exit 2\):\nerror: .*found none"):
        read_manifests([folder])


def test_the_child_runs_the_same_sdk_as_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "sdk.txt"
    monkeypatch.setenv("SDK_REPORT", str(report))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    (found,) = read_manifests([write_function(tmp_path, "reporter", REPORTS_ITS_SDK)])
    assert found.manifest.name == "reporter"
    assert Path(report.read_text()) == Path(soorma.__file__)


def test_find_agent_tells_an_agent_from_a_platform_function(tmp_path: Path) -> None:
    custom = write_function(tmp_path, "custom", NOT_AN_AGENT)
    agent = write_function(tmp_path, "agent", SMALL_AGENT.format(name="found"))
    assert find_agent(custom) is None
    found = find_agent(agent)
    assert found is not None and found.name == "found"
    with pytest.raises(AgentNotFoundError, match="found none"):
        load_agent(custom)


def test_load_handler_gives_the_modules_handler_or_the_agents(tmp_path: Path) -> None:
    agent, handler = load_handler(write_function(tmp_path, "own", OWN_HANDLER))
    assert agent.name == "wrapped" and handler({}, None) == "own"
    bare, bare_handler = load_handler(write_function(tmp_path, "bare", NO_HANDLER))
    assert bare.name == "bare" and bare_handler == bare.lambda_handler
    custom = write_function(tmp_path, "custom", NOT_AN_AGENT)
    with pytest.raises(AgentNotFoundError):
        load_handler(custom)


def test_the_dev_tools_reader_returns_manifests_and_its_error_type(tmp_path: Path) -> None:
    from soorma_dev.manifests import read_manifests as dev_read_manifests

    folder = write_function(tmp_path, "a", SMALL_AGENT.format(name="dev-a"))
    assert [m.name for m in dev_read_manifests([folder])] == ["dev-a"]
    with pytest.raises(AgentNotFoundError, match="found none"):
        dev_read_manifests([write_function(tmp_path, "custom", NOT_AN_AGENT)])


def test_soorma_manifest_prints_what_the_producer_prints(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from soorma_dev.cli import app

    folder = write_function(tmp_path / "one", "a", SMALL_AGENT.format(name="cli-a"))
    write_function(tmp_path / "scanned", "custom", NOT_AN_AGENT)
    arguments = [str(folder), "--scan", str(tmp_path / "scanned")]
    result = CliRunner().invoke(app, ["manifest", *arguments])
    assert result.exit_code == 0, result.output
    produced = produce(*arguments)
    assert json.loads(result.output) == json.loads(produced.stdout)
    assert [r["name"] for r in json.loads(result.output)] == ["cli-a"]


#: An agent declaring an event whose schema is not a valid JSON Schema (`type` misspelt).
MALFORMED_SCHEMA_AGENT = """
from soorma import Worker
from soorma_common.definitions import EventDefinition

bad = EventDefinition(
    event_name="order.placed",
    topic="business-facts",
    payload_schema={"type": "object", "properties": {"total": {"type": "strin"}}},
)
worker = Worker(name="bad-schema", events_produced=[bad])
"""


def test_the_producer_refuses_a_malformed_schema_before_anything_is_deployed(
    tmp_path: Path,
) -> None:
    folder = write_function(tmp_path, "bad", MALFORMED_SCHEMA_AGENT)
    done = produce(str(folder))
    assert done.returncode == 2
    assert "order.placed" in done.stderr and "strin" in done.stderr
    assert "Traceback" not in done.stderr
