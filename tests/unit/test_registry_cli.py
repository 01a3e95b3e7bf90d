"""`soorma events`, `soorma graph`, `soorma asyncapi` offline, from the examples' manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soorma_dev.cli import app

ROOT = Path(__file__).resolve().parents[2]
ORDER_FANOUT = str(ROOT / "examples" / "order-fanout")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def test_events_table_lists_topics_producers_and_consumers(runner: CliRunner) -> None:
    result = runner.invoke(app, ["events", ORDER_FANOUT], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line
        for line in result.output.splitlines()
        if line.startswith("│")
    }
    assert set(rows) == {"order.placed", "stock.reserve"}
    assert "business-facts" in rows["order.placed"]
    assert "audit-log, inventory, notifier" in rows["order.placed"]
    assert "warehouse" in rows["stock.reserve"]


def test_events_as_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["events", ORDER_FANOUT, "--json"])
    assert result.exit_code == 0, result.output
    catalog = json.loads(result.output)
    assert sorted(catalog["agents"]) == ["audit-log", "inventory", "notifier", "warehouse"]


def test_graph_prints_mermaid(runner: CliRunner) -> None:
    result = runner.invoke(app, ["graph", ORDER_FANOUT])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("flowchart LR\n")
    assert "    event_stock_reserve --> agent_warehouse\n" in result.output


def test_graph_rejects_an_unknown_format(runner: CliRunner) -> None:
    result = runner.invoke(app, ["graph", ORDER_FANOUT, "--format", "gif"])
    assert result.exit_code != 0
    assert "unknown format 'gif'" in result.output


def test_asyncapi_writes_a_file(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.json"
    result = runner.invoke(app, ["asyncapi", ORDER_FANOUT, "-o", str(out), "--version", "0.3.0"])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["asyncapi"] == "3.0.0" and document["info"]["version"] == "0.3.0"
    assert sorted(document["channels"]) == ["action-requests", "business-facts"]


def test_folders_of_functions_skip_platform_functions(runner: CliRunner) -> None:
    result = runner.invoke(app, ["events", str(ROOT / "functions"), "--json"])
    assert result.exit_code == 0, result.output
    assert "registry-sync" not in json.loads(result.output)["agents"]


def test_read_manifests_scans_a_folder_of_functions_in_one_child_process() -> None:
    from soorma_dev.manifests import read_manifests

    scanned = read_manifests([], scan=ROOT / "functions")
    assert [m.name for m in scanned] == ["event-log"]  # registry_sync is not an agent
    both = read_manifests(
        [ROOT / "examples" / "order-fanout" / "warehouse"], scan=ROOT / "functions"
    )
    assert [m.name for m in both] == ["warehouse", "event-log"]
    assert read_manifests([]) == []
